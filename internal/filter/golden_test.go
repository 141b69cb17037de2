package filter

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the results in testdata/*.txt")

// TestGolden runs the cases in testdata/*.txt. A file is a list of cases:
//
//	# comment
//	parse: a = 1
//	  tree: (= (prop a) (int 1))
//	  string: a = 1
//	parse: a = NULL
//	  error: 1:5: NULL cannot be an operand of =; use IS NULL or IS NOT NULL
//	match: a > 5
//	  a=6 => TRUE
//	  a="5.5" => ERROR
//	  - => UNKNOWN
//
// The text after "parse: " or "match: " is the expression, or a Go string
// literal when it starts with a double quote. A match line lists the
// message's properties ("-" for none; values may be Go string literals)
// and the selector's value: TRUE, FALSE, UNKNOWN or ERROR. Only TRUE
// matches. With -update the indented result lines are rewritten.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) { runGoldenFile(t, path) })
	}
}

func runGoldenFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		out = append(out, line)
		verb, arg, ok := strings.Cut(line, ": ")
		if !ok || (verb != "parse" && verb != "match") {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.HasPrefix(lines[end], "  ") {
			end++
		}
		results := lines[i+1 : end]
		where := fmt.Sprintf("%s:%d", path, i+1)
		expr, err := argument(arg)
		require.NoError(t, err, where)
		if verb == "parse" {
			got := parseResults(t, where, expr)
			if !*update && !slices.Equal(got, results) {
				t.Errorf("%s: parse: %s\ngot:\n%s\nwant:\n%s", where, arg, strings.Join(got, "\n"), strings.Join(results, "\n"))
			}
			out = append(out, got...)
		} else {
			out = append(out, matchResults(t, where, expr, results)...)
		}
		i = end - 1
	}
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644))
	}
}

// argument decodes the expression of a case.
func argument(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		return strconv.Unquote(s)
	}
	return s, nil
}

// parseResults compiles expr and renders the indented result lines. A
// compiled expression must also survive the trip through its String.
func parseResults(t *testing.T, where, expr string) []string {
	e, err := Compile(expr)
	if err != nil {
		var se *SyntaxError
		require.ErrorAs(t, err, &se, where)
		require.ErrorIs(t, err, ErrInvalid, where)
		return []string{fmt.Sprintf("  error: %d:%d: %s", se.Line, se.Column, se.Msg)}
	}
	requireRoundTrip(t, e, where)
	return []string{"  tree: " + oneLine(tree(e)), "  string: " + oneLine(e.String())}
}

// oneLine keeps a result on one line of the golden file: a result with a
// line break or a leading double quote is written as a Go string literal.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	return s
}

func tree(e *Expression) string {
	var b strings.Builder
	e.root.tree(&b)
	return b.String()
}

// requireRoundTrip checks that the canonical form compiles to the same
// tree and prints identically.
func requireRoundTrip(t testing.TB, e *Expression, where string) {
	t.Helper()
	again, err := Compile(e.String())
	require.NoError(t, err, "%s: canonical form %q does not compile", where, e.String())
	require.Equal(t, e.String(), again.String(), where)
	require.Equal(t, tree(e), tree(again), where)
}

// matchResults evaluates expr for every property line and returns the
// lines with the results filled in.
func matchResults(t *testing.T, where, expr string, lines []string) []string {
	e, err := Compile(expr)
	require.NoError(t, err, where)
	requireRoundTrip(t, e, where)
	var out []string
	for _, line := range lines {
		spec, want, _ := strings.Cut(strings.TrimSpace(line), " => ")
		props, err := parseProps(spec)
		require.NoError(t, err, "%s: %s", where, line)
		v := e.root.eval(props)
		got := resultName(v)
		require.Equal(t, got == "TRUE", e.Match(props), "%s: Match disagrees with eval", where)
		if !*update && got != want {
			t.Errorf("%s: match: %s\n  with %s: got %s, want %s", where, expr, spec, got, want)
		}
		out = append(out, "  "+spec+" => "+got)
	}
	return out
}

func resultName(v value) string {
	switch {
	case v.isTrue():
		return "TRUE"
	case v.isFalse():
		return "FALSE"
	case v.kind == kNull:
		return "UNKNOWN"
	case v.kind == kErr:
		return "ERROR"
	}
	return "VALUE " + v.literal() // a selector is always boolean; this fails the test
}

// parseProps reads `a=1 b="x y"` or `-`.
func parseProps(s string) (Map, error) {
	m := Map{}
	if s == "-" {
		return m, nil
	}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, errors.New("want key=value pairs, found " + strconv.Quote(s))
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, err
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		m[key] = val
		s = rest
	}
	return m, nil
}
