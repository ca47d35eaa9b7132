// Command argocd-health runs an Argo CD Lua health check (deploy/argocd/health.lua) on Kubernetes
// objects the way Argo CD runs it, so the tests check what Argo CD shows for our Groups without
// an Argo CD: the same interpreter (gopher-lua, at the version Argo CD pins) in the same sandbox.
//
// Usage: argocd-health --check HEALTH.lua [FILE...]   (no FILE, or "-": standard input)
//
// Input, output and exit status: see package objects. The status is the check's answer
// (Healthy, Progressing, Degraded, Suspended, Missing, Unknown); a Lua error, a timeout or a
// return value that is not a table fails the run (exit 1), as Argo CD then shows no health.
//
// How this mirrors Argo CD (util/lua/lua.go in argoproj/argo-cd, VM.runLua and
// ExecuteHealthLua, for a check configured in argocd-cm without useOpenLibs):
//   - a fresh interpreter per object, opened with SkipOpenLibs and then only the package, base
//     and table libraries and Argo CD's reduced os library (time and date): no string, math or io
//     library, and no string methods ("x"):sub();
//   - the os library as Argo CD installs it: its opener registers time and date under the table
//     library's name, which is taken already, so it adds nothing; the global `os` is absent and
//     `require("os")` (preloaded) is the way to time and date;
//   - the object converted to Lua tables as Argo CD converts the unstructured object (whole
//     numbers are int64 and become Lua numbers, JSON null becomes nil, no metatables), set as
//     the global `obj`;
//   - a one-second deadline on the run (the interpreter's context);
//   - the returned table encoded to JSON and read as {status, message}; a status outside the six
//     Argo CD knows becomes Unknown "Lua returned an invalid health status"; nil or an empty table
//     is no health (printed as an empty status); any other value is an error.
//
// Not mirrored: Argo CD answers Progressing "Pending deletion" for objects with
// metadata.deletionTimestamp before it calls any health check; here the check itself is run, so
// that its own handling of deletion is tested too (ours gives the same answer).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"

	"igz-operator/hack/tools/internal/objects"
)

const (
	tool  = "argocd-health"
	usage = "usage: argocd-health --check HEALTH.lua [FILE...]  (JSON objects or lists; no FILE or \"-\" = stdin)"
	// Argo CD's deadline for one script run.
	timeout = time.Second
)

func main() {
	var check string
	var inputs []string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-h" || a == "--help":
			fmt.Println(usage)
			return
		case a == "--check":
			if i+1 >= len(args) {
				objects.Fail(tool, 2, "--check needs a file\n%s", usage)
			}
			check = args[i+1]
			i++
		case strings.HasPrefix(a, "-") && a != "-":
			objects.Fail(tool, 2, "unknown option %q\n%s", a, usage)
		default:
			inputs = append(inputs, a)
		}
	}
	if check == "" {
		objects.Fail(tool, 2, "--check is required\n%s", usage)
	}
	script, err := os.ReadFile(check)
	if err != nil {
		objects.Fail(tool, 2, "%v", err)
	}
	objects.Run(tool, inputs, func(o objects.Object) (string, string, error) {
		hs, err := health(string(script), o.Object)
		if err != nil {
			return "", "", fmt.Errorf("health check failed: %v", err)
		}
		return hs.Status, hs.Message, nil
	})
}

// status is the part of Argo CD's HealthStatus a health check returns.
type status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

var valid = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

func health(script string, obj map[string]any) (status, error) {
	l, err := run(script, obj)
	if l != nil {
		defer l.Close()
	}
	if err != nil {
		return status{}, err
	}
	ret := l.Get(-1)
	switch ret.Type() {
	case lua.LTNil:
		return status{}, nil
	case lua.LTTable:
	default:
		return status{}, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	encoded, err := luajson.Encode(ret)
	if err != nil {
		return status{}, err
	}
	var hs status
	if err := json.Unmarshal(encoded, &hs); err != nil {
		// An empty table encodes as an array: no health, as in Argo CD.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Value == "array" {
			return status{}, nil
		}
		return status{}, err
	}
	if !valid[hs.Status] {
		return status{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// run executes the script in a fresh sandbox with `obj` set; the caller closes the state.
func run(script string, obj map[string]any) (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return l, err
		}
	}
	l.PreloadModule(lua.OsLibName, loadSafeOs)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	// The message without the interpreter's stack trace, as Argo CD shows it.
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
	}
	return l, err
}

// toLua converts a decoded object as Argo CD's decodeValue does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}
