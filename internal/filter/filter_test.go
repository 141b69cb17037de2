package filter

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompileErrorIsPositioned(t *testing.T) {
	_, err := Compile("region = 'eu' AND\n  price >")
	require.ErrorIs(t, err, ErrInvalid)
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
	require.Equal(t, SyntaxError{Offset: 27, Line: 2, Column: 10, Msg: "expected a property, a literal or (, found end of input"}, *se)
	require.Equal(t, "filter: invalid SQL92 expression at 2:10: expected a property, a literal or (, found end of input", err.Error())
}

// ParserTest.testParse_floatOverFlow: a literal of 200 000 digits.
func TestHugeFloatLiteral(t *testing.T) {
	digits := "1" + strings.Repeat("111111111111111111111111111111111111111111111111111", 2048)
	_, err := Compile("a > " + digits + "." + digits)
	require.ErrorContains(t, err, "too large for a double")

	_, err = Compile("a > " + digits)
	require.ErrorContains(t, err, "does not fit in a long")
}

func TestNestingIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		expr func(n int) string
	}{
		{"parentheses", func(n int) string { return strings.Repeat("(", n) + "a" + strings.Repeat(")", n) }},
		{"NOT", func(n int) string { return strings.Repeat("NOT ", n) + "a" }},
		{"minus", func(n int) string { return "a = " + strings.Repeat("- ", n) + "1" }},
		{"plus", func(n int) string { return "a = " + strings.Repeat("+", n) + "1" }},
		{"chained =", func(n int) string { return "a" + strings.Repeat(" = TRUE", n) }},
		{"chained CONTAINS", func(n int) string { return "a" + strings.Repeat(" CONTAINS 'x'", n) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.expr(MaxDepth / 2))
			require.NoError(t, err)
			for _, n := range []int{MaxDepth + 1, 1_000_000} {
				_, err = Compile(tc.expr(n))
				require.ErrorIs(t, err, ErrInvalid)
				require.ErrorContains(t, err, "nested too deeply")
			}
		})
	}
}

// A long flat chain of OR, as generated subscriptions have, is not deep.
func TestLongChainsAreFlat(t *testing.T) {
	var terms, tags []string
	for i := range 10_000 {
		terms = append(terms, fmt.Sprintf("TAGS = 't%d'", i))
		tags = append(tags, fmt.Sprintf("'t%d'", i))
	}
	e, err := Compile(strings.Join(terms, " OR "))
	require.NoError(t, err)
	require.True(t, e.Match(Map{"TAGS": "t9999"}))
	require.False(t, e.Match(Map{"TAGS": "t10000"}))

	e, err = Compile("TAGS IN (" + strings.Join(tags, ", ") + ")")
	require.NoError(t, err)
	require.True(t, e.Match(Map{"TAGS": "t42"}))
	require.False(t, e.Match(Map{"TAGS": "t"}))
}

// The common selectors evaluate without allocating.
func TestMatchDoesNotAllocate(t *testing.T) {
	props := Map{"a": "2", "region": "eu", "TAGS": "red", "price": "9.5", "n": "x"}
	for _, expr := range []string{
		"(a BETWEEN 0 AND 3) AND region = 'eu' AND TAGS = 'red'",
		"TAGS IN ('red', 'green', 'blue', 'cyan', 'magenta', 'yellow', 'black', 'white')",
		"price > 9.25 OR region NOT IN ('us') OR missing IS NULL",
		"region STARTSWITH 'e' AND NOT (region CONTAINS 'x')",
		"n > 5", // an evaluation error
	} {
		e, err := Compile(expr)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() { e.Match(props) })
		require.Zero(t, allocs, expr)
	}
}

func TestMatchIsSafeForConcurrentUse(t *testing.T) {
	e, err := Compile("(a BETWEEN 0 AND 3) AND region = 'eu' AND TAGS = 'red'")
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				a := (g + i) % 6
				got := e.Match(Map{"a": fmt.Sprint(a), "region": "eu", "TAGS": "red"})
				if got != (a <= 3) {
					t.Errorf("a=%d: Match = %v", a, got)
					return
				}
			}
		})
	}
	wg.Wait()
}
