// Command kstatus prints what the kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status)
// computes for Kubernetes objects: the same library Flux and kpt use to decide whether a resource
// is ready, still converging or failed. The tests run it on real Group objects so that what they
// check is what those tools see, not our reading of the kstatus conventions.
//
// Usage: kstatus [FILE...]   (no FILE, or "-": standard input)
//
// Input, output and exit status: see package objects. The status is kstatus' own word
// (InProgress, Failed, Current, Terminating, NotFound, Unknown); a field of the wrong type that
// kstatus refuses is bad input (exit 1).
package main

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"igz-operator/hack/tools/internal/objects"
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
			objects.Fail("kstatus", 2, "unknown option %q\n%s", a, usage)
		}
	}
	objects.Run("kstatus", args, func(o objects.Object) (string, string, error) {
		res, err := status.Compute(o.Unstructured)
		if err != nil {
			return "", "", fmt.Errorf("kstatus could not evaluate it: %v", err)
		}
		return string(res.Status), res.Message, nil
	})
}
