// Command pki makes the short-lived certificates and keys of the local control plane
// (hack/envtest-up.sh) with Go's standard library, so that no openssl is needed. Keys are ECDSA
// P-256 (kube-apiserver signs ServiceAccount tokens with ES256 from such a key); certificates are
// valid for 7 days. Every file is written with mode 0600.
//
// Usage:
//
//	pki ca PREFIX CN                       PREFIX.crt, PREFIX.key: a self-signed CA
//	pki issue CA_PREFIX PREFIX SUBJECT [SAN]
//	                                       PREFIX.crt, PREFIX.key signed by the CA; SUBJECT as
//	                                       openssl writes it ("/O=system:masters/CN=admin"); with
//	                                       SAN ("IP:127.0.0.1,DNS:localhost") a serving
//	                                       certificate, without one a client certificate
//	pki key FILE                           a private key alone (SEC1 PEM)
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

const usage = `usage: pki ca PREFIX CN
       pki issue CA_PREFIX PREFIX SUBJECT [SAN]
       pki key FILE`

const validity = 7 * 24 * time.Hour

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 3 && args[0] == "ca":
		err = makeCA(args[1], args[2])
	case (len(args) == 4 || len(args) == 5) && args[0] == "issue":
		san := ""
		if len(args) == 5 {
			san = args[4]
		}
		err = issue(args[1], args[2], args[3], san)
	case len(args) == 2 && args[0] == "key":
		_, err = newKey(args[1])
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pki: %v\n", err)
		os.Exit(1)
	}
}

func makeCA(prefix, cn string) error {
	key, err := newKey(prefix + ".key")
	if err != nil {
		return err
	}
	tmpl, err := template(pkix.Name{CommonName: cn})
	if err != nil {
		return err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return writeCert(prefix+".crt", tmpl, tmpl, key.Public(), key)
}

func issue(caPrefix, prefix, subject, san string) error {
	ca, caKey, err := readCA(caPrefix)
	if err != nil {
		return err
	}
	name, err := parseSubject(subject)
	if err != nil {
		return err
	}
	tmpl, err := template(name)
	if err != nil {
		return err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if san != "" {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, entry := range strings.Split(san, ",") {
			kind, value, _ := strings.Cut(strings.TrimSpace(entry), ":")
			switch kind {
			case "IP":
				ip := net.ParseIP(value)
				if ip == nil {
					return fmt.Errorf("SAN %q: not an IP address", entry)
				}
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			case "DNS":
				tmpl.DNSNames = append(tmpl.DNSNames, value)
			default:
				return fmt.Errorf("SAN %q: expected IP:<address> or DNS:<name>", entry)
			}
		}
	}
	key, err := newKey(prefix + ".key")
	if err != nil {
		return err
	}
	return writeCert(prefix+".crt", tmpl, ca, key.Public(), caKey)
}

// parseSubject reads "/O=a/O=b/CN=c" (the openssl -subj form): O and CN only.
func parseSubject(s string) (pkix.Name, error) {
	var name pkix.Name
	for _, part := range strings.Split(strings.TrimPrefix(s, "/"), "/") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case ok && k == "CN":
			name.CommonName = v
		case ok && k == "O":
			name.Organization = append(name.Organization, v)
		default:
			return name, fmt.Errorf("subject %q: expected /O=<organization>.../CN=<name>", s)
		}
	}
	return name, nil
}

func template(name pkix.Name) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      name,
		// A minute back: a clock a little behind still accepts the certificate at once.
		NotBefore: now.Add(-time.Minute),
		NotAfter:  now.Add(validity),
	}, nil
}

func newKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// SEC1 ("EC PRIVATE KEY"): the form kube-apiserver's --service-account-key-file reads.
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return key, writePEM(path, "EC PRIVATE KEY", der)
}

func writeCert(path string, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) error {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return err
	}
	return writePEM(path, "CERTIFICATE", der)
}

func readCA(prefix string) (*x509.Certificate, crypto.Signer, error) {
	certDER, err := readPEM(prefix + ".crt")
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := readPEM(prefix + ".key")
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(keyDER)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func readPEM(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return block.Bytes, nil
}
