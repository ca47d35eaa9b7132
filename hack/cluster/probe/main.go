// igz-probe: a tiny static client and server for checking the local cluster
// (hack/cluster-check.sh). The standard library only, so it builds without downloads.
//
//	igz-probe serve ADDR      answer 200 "ok <hostname>" on every path
//	igz-probe kube-get PATH   GET PATH from the API server the way in-cluster clients do:
//	                          KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount token, TLS
//	                          verified against the ServiceAccount's CA; exit 0 on 2xx
//	igz-probe get URL         plain HTTP GET; exit 0 on 2xx
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: igz-probe serve ADDR | kube-get PATH | get URL")
		os.Exit(2)
	}
	arg := os.Args[2]
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "ok %s\n", host)
		})
		fmt.Println("serving on", arg)
		fail(http.ListenAndServe(arg, nil))
	case "kube-get":
		fail(kubeGet(arg))
	case "get":
		client := &http.Client{Timeout: 10 * time.Second}
		fail(report(client.Get(arg)))
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func kubeGet(path string) error {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return fmt.Errorf("KUBERNETES_SERVICE_HOST/PORT are not set: not in a Pod?")
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	url := "https://" + net.JoinHostPort(host, port) + path
	fmt.Println("GET", url, "(TLS verified against the ServiceAccount CA)")
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	return report(client.Do(req))
}

func report(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	fmt.Printf("HTTP %d\n%s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
