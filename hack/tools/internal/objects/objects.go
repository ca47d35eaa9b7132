// Package objects is the input and output both GitOps status evaluators here share (kstatus and
// argocd-health), so that they read the same objects and print comparable tables.
//
// Input: JSON only (`kubectl get -o json` output or a raw API response): one object, a list
// (kind "List" or any "<Kind>List" with an "items" array, e.g. a GroupList), or several of these
// one after the other (newline-delimited or simply concatenated). No argument, or "-", is
// standard input.
//
// Output, one line per object, in input order:
//
//	<namespace>/<name>\t<status>\t<message>
//
// Cluster-scoped objects (no namespace) print as "<name>" alone. Tabs and line breaks inside the
// message become spaces, so every object is exactly one line with three tab-separated fields.
//
// Exit status: 0 when every object was evaluated, 1 on bad input (not JSON, not an object, no
// metadata.name, no JSON at all) or when the evaluation fails, 2 on bad usage. Nothing is printed
// on stdout once anything fails, so a caller never reads a partial table as a complete one.
package objects

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Object is one decoded object and where it came from, for error messages.
type Object struct {
	Where string
	*unstructured.Unstructured
}

// Evaluate answers (status, message) for one object.
type Evaluate func(Object) (status, message string, err error)

// Run evaluates every object of every input (see the package comment) and prints the table, or
// prints "<tool>: <what failed>" on stderr and exits 1.
func Run(tool string, inputs []string, eval Evaluate) {
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var lines []string
	for _, arg := range inputs {
		name, data, err := read(arg)
		if err != nil {
			Fail(tool, 1, "%s: %v", name, err)
		}
		objs, docs, err := decode(data)
		if err != nil {
			Fail(tool, 1, "%s: %v", name, err)
		}
		// An empty list is a valid answer (`kubectl get groups -o json` with no Groups) and
		// prints nothing; an input with no JSON at all is a mistake worth stopping for.
		if docs == 0 {
			Fail(tool, 1, "%s: no JSON found (expected an object, a List or newline-delimited objects)", name)
		}
		for _, o := range objs {
			id, err := o.id()
			if err != nil {
				Fail(tool, 1, "%s: %v", name, err)
			}
			status, message, err := eval(o)
			if err != nil {
				Fail(tool, 1, "%s: %s (%s): %v", name, o.Where, id, err)
			}
			lines = append(lines, fmt.Sprintf("%s\t%s\t%s", id, status, flatten.Replace(message)))
		}
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if err := w.Flush(); err != nil {
		Fail(tool, 1, "writing output: %v", err)
	}
}

// Fail prints "<tool>: <message>" on stderr and exits with code.
func Fail(tool string, code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, tool+": "+format+"\n", a...)
	os.Exit(code)
}

var flatten = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func read(arg string) (string, []byte, error) {
	if arg == "-" {
		data, err := io.ReadAll(os.Stdin)
		return "stdin", data, err
	}
	data, err := os.ReadFile(arg)
	return arg, data, err
}

func (o Object) id() (string, error) {
	name := o.GetName()
	if name == "" {
		return "", fmt.Errorf("%s: metadata.name is missing (is this a Kubernetes object?)", o.Where)
	}
	if ns := o.GetNamespace(); ns != "" {
		return ns + "/" + name, nil
	}
	return name, nil
}

// decode splits the input into top-level JSON values and expands lists into their items. It
// returns the objects and the number of top-level documents.
func decode(data []byte) ([]Object, int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []Object
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, doc - 1, nil
			}
			return nil, 0, fmt.Errorf("document %d: not valid JSON: %v", doc, err)
		}
		// apimachinery's decoder, not encoding/json's: it turns whole numbers into int64, as the
		// objects Argo CD and Flux read from the API server have them (kstatus' generation checks
		// require int64; with float64 it would fail on metadata.generation).
		var m map[string]any
		if err := utiljson.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, 0, fmt.Errorf("document %d: expected a JSON object (a Kubernetes object or list), got %s",
				doc, describe(raw))
		}
		where := fmt.Sprintf("document %d", doc)
		if items, isList, err := listItems(m); err != nil {
			return nil, 0, fmt.Errorf("%s: %v", where, err)
		} else if isList {
			for i, it := range items {
				out = append(out, Object{fmt.Sprintf("%s, items[%d]", where, i), it})
			}
		} else {
			out = append(out, Object{where, &unstructured.Unstructured{Object: m}})
		}
	}
}

// listItems recognises "List" and "<Kind>List" objects with an items array. Items of a typed list
// (GroupList) may lack apiVersion and kind when they come straight from the API server; they are
// filled in from the list, as live objects always carry them (kstatus picks type-specific rules by
// GroupKind; a Group has none and gets the generic rules either way, but a Deployment would not).
func listItems(m map[string]any) ([]*unstructured.Unstructured, bool, error) {
	kind, _ := m["kind"].(string)
	rawItems, hasItems := m["items"]
	if !strings.HasSuffix(kind, "List") || !hasItems {
		return nil, false, nil
	}
	arr, ok := rawItems.([]any)
	if !ok && rawItems != nil {
		return nil, true, fmt.Errorf("%s: items is not an array", kind)
	}
	apiVersion, _ := m["apiVersion"].(string)
	itemKind := strings.TrimSuffix(kind, "List")
	var out []*unstructured.Unstructured
	for i, it := range arr {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, true, fmt.Errorf("%s items[%d]: not an object", kind, i)
		}
		if itemKind != "" {
			if _, ok := obj["kind"]; !ok {
				obj["kind"] = itemKind
			}
			if _, ok := obj["apiVersion"]; !ok && apiVersion != "" {
				obj["apiVersion"] = apiVersion
			}
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, true, nil
}

func describe(raw []byte) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '[':
		return "an array (wrap items in {\"kind\": \"List\", \"items\": [...]})"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}
