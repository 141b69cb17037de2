package filter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedExpressions returns every expression in testdata/*.txt.
func seedExpressions(f *testing.F) []string {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		f.Fatal(err)
	}
	var seeds []string
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			verb, arg, ok := strings.Cut(line, ": ")
			if !ok || (verb != "parse" && verb != "match") {
				continue
			}
			expr, err := argument(arg)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, expr)
		}
	}
	return seeds
}

// FuzzCompile: Compile never panics, refuses with a positioned
// *SyntaxError, and whatever it accepts survives the trip through String
// with the same meaning.
func FuzzCompile(f *testing.F) {
	for _, s := range seedExpressions(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compile(%q): error %v is not a *SyntaxError", expr, err)
			}
			if se.Offset < 0 || se.Offset > len(expr) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("Compile(%q): bad position %+v", expr, se)
			}
			return
		}
		requireRoundTrip(t, e, expr)
	})
}

// FuzzMatch: evaluation never panics, and the canonical form selects the
// same messages as the original expression.
func FuzzMatch(f *testing.F) {
	values := []string{"", "1", "-0.0", "3.5", "red", "true", "NaN", "2147483648"}
	for i, s := range seedExpressions(f) {
		f.Add(s, values[i%len(values)], values[(i+3)%len(values)])
	}
	f.Fuzz(func(t *testing.T, expr, v1, v2 string) {
		e, err := Compile(expr)
		if err != nil {
			return
		}
		canon, err := Compile(e.String())
		if err != nil {
			t.Fatalf("canonical form of %q does not compile: %v", expr, err)
		}
		for _, props := range []Map{
			{},
			{"a": v1},
			{"a": v1, "b": v2, "TAGS": v2, "region": v1, "n": v2, "x": v1},
		} {
			got, want := canon.root.eval(props), e.root.eval(props)
			if got != want {
				t.Fatalf("%q and its canonical form %q disagree on %v: %s vs %s",
					expr, e.String(), props, resultName(want), resultName(got))
			}
		}
	})
}
