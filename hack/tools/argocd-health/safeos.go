package main

// Argo CD's reduced os library for scripts: time and date only (nothing that exits, reads files
// or runs programs).

import (
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

var safeOs = map[string]lua.LGFunction{"time": osTime, "date": osDate}

// openSafeOs is called as Argo CD calls its opener, and does what it does: it registers the
// functions under the table library's name (lua.TabLibName), which is taken already, so nothing
// is added and the global `os` stays undefined in Argo CD's sandbox.
func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.TabLibName, safeOs))
	return 1
}

// loadSafeOs is the preloaded module behind `require("os")`.
func loadSafeOs(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), safeOs))
	return 1
}

// os.time([table]): now, or the local time the table describes (hour defaults to 12).
func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	tbl := l.CheckTable(1)
	field := func(name string, def int) int {
		if n, ok := tbl.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

// os.date([format [, time]]): "!" first means UTC; "*t" gives a table; otherwise strftime-like.
func osDate(l *lua.LState) int {
	t := time.Now()
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
	}
	if l.GetTop() >= 2 {
		t = time.Unix(l.CheckInt64(2), 0)
	}
	if rest, ok := strings.CutPrefix(format, "!"); ok {
		t, format = t.UTC(), rest
	}
	if strings.HasPrefix(format, "*t") {
		ret := l.NewTable()
		for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(),
			"hour": t.Hour(), "min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1,
			"yday": t.YearDay()} {
			ret.RawSetString(k, lua.LNumber(v))
		}
		ret.RawSetString("isdst", lua.LFalse)
		l.Push(ret)
		return 1
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

var layouts = map[byte]string{
	'a': "Mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "Mon Jan  2 15:04:05 2006",
	'd': "02", 'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM",
	'S': "05", 'x': "01/02/06", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch v := format[i]; {
		case v == '%':
			b.WriteByte('%')
		case v == 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case layouts[v] != "":
			b.WriteString(t.Format(layouts[v]))
		default:
			b.WriteByte('%')
			b.WriteByte(v)
		}
	}
	return b.String()
}
