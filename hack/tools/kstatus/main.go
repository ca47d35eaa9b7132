// Command kstatus prints what the kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status)
// computes for Kubernetes objects: the same library Flux and kpt use to decide whether a resource
// is ready, still converging or failed. The tests run it on real Group objects so that what they
// check is what those tools see, not our reading of the kstatus conventions.
//
// Usage: kstatus [FILE...]   (no FILE, or "-": standard input)
//
// Input: JSON only (`kubectl get -o json` output or a raw API response): one object, a list
// (kind "List" or any "<Kind>List" with an "items" array, e.g. a GroupList), or several of these
// one after the other (newline-delimited or simply concatenated).
//
// Output, one line per object, in input order:
//
//	<namespace>/<name>\t<Status>\t<message>
//
// <Status> is kstatus' own word (InProgress, Failed, Current, Terminating, NotFound, Unknown).
// Cluster-scoped objects (no namespace) print as "<name>" alone. Tabs and line breaks inside the
// message become spaces, so every object is exactly one line with three tab-separated fields.
//
// Exit status: 0 when every object was evaluated, 1 on bad input (not JSON, not an object, no
// metadata.name, no JSON at all, a field of the wrong type that kstatus refuses), 2 on bad usage.
// Nothing is printed on stdout for any object once bad input is found, so a caller never reads a
// partial table as a complete one.
package main

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
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

const usage = "usage: kstatus [FILE...]  (reads JSON objects or lists; no FILE or \"-\" = stdin)"

func main() {
	args := os.Args[1:]
	for _, a := range args {
		if a == "-h" || a == "--help" {
			fmt.Println(usage)
			return
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			fmt.Fprintf(os.Stderr, "kstatus: unknown option %q\n%s\n", a, usage)
			os.Exit(2)
		}
	}
	if len(args) == 0 {
		args = []string{"-"}
	}

	var lines []string
	for _, a := range args {
		name, data, err := readInput(a)
		if err != nil {
			fail("%s: %v", name, err)
		}
		objs, docs, err := decodeAll(data)
		if err != nil {
			fail("%s: %v", name, err)
		}
		// An empty list is a valid answer (`kubectl get groups -o json` with no Groups) and
		// prints nothing; an input with no JSON at all is a mistake worth stopping for.
		if docs == 0 {
			fail("%s: no JSON found (expected an object, a List or newline-delimited objects)", name)
		}
		for _, o := range objs {
			line, err := evaluate(o)
			if err != nil {
				fail("%s: %v", name, err)
			}
			lines = append(lines, line)
		}
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if err := w.Flush(); err != nil {
		fail("writing output: %v", err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", a...)
	os.Exit(1)
}

func readInput(arg string) (string, []byte, error) {
	if arg == "-" {
		data, err := io.ReadAll(os.Stdin)
		return "stdin", data, err
	}
	data, err := os.ReadFile(arg)
	return arg, data, err
}

// object is one decoded object plus where it came from, for error messages.
type object struct {
	where string
	u     *unstructured.Unstructured
}

// decodeAll splits the input into top-level JSON values and expands lists into their items. It
// returns the objects and the number of top-level documents.
func decodeAll(data []byte) ([]object, int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []object
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, doc - 1, nil
			}
			return nil, 0, fmt.Errorf("document %d: not valid JSON: %v", doc, err)
		}
		// apimachinery's decoder, not encoding/json's: it turns whole numbers into int64, which
		// is what unstructured accessors (and so kstatus' generation checks) require. With plain
		// float64 numbers kstatus would fail on metadata.generation.
		var m map[string]any
		if err := utiljson.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, 0, fmt.Errorf("document %d: expected a JSON object (a Kubernetes object or list), got %s",
				doc, describeJSON(raw))
		}
		where := fmt.Sprintf("document %d", doc)
		if items, isList, err := listItems(m); err != nil {
			return nil, 0, fmt.Errorf("%s: %v", where, err)
		} else if isList {
			for i, it := range items {
				out = append(out, object{fmt.Sprintf("%s, items[%d]", where, i), it})
			}
		} else {
			out = append(out, object{where, &unstructured.Unstructured{Object: m}})
		}
	}
}

// listItems recognises "List" and "<Kind>List" objects with an items array. Items of a typed list
// (GroupList) may lack apiVersion and kind when they come straight from the API server; they are
// filled in from the list so that kstatus sees the real GroupKind (it picks type-specific rules by
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

func describeJSON(raw []byte) string {
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

func evaluate(o object) (string, error) {
	name := o.u.GetName()
	if name == "" {
		return "", fmt.Errorf("%s: metadata.name is missing (is this a Kubernetes object?)", o.where)
	}
	id := name
	if ns := o.u.GetNamespace(); ns != "" {
		id = ns + "/" + name
	}
	res, err := status.Compute(o.u)
	if err != nil {
		return "", fmt.Errorf("%s (%s): kstatus could not evaluate it: %v", o.where, id, err)
	}
	return fmt.Sprintf("%s\t%s\t%s", id, res.Status, oneLine(res.Message)), nil
}

var flatten = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func oneLine(s string) string { return flatten.Replace(s) }
