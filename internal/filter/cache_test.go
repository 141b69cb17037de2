package filter

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCacheReturnsTheSameCompiledExpression(t *testing.T) {
	c := NewCache(4)
	e1, err := c.Compile("a = 1")
	require.NoError(t, err)
	e2, err := c.Compile("a = 1")
	require.NoError(t, err)
	require.Same(t, e1, e2)
	require.Equal(t, 1, c.Len())
}

func TestCacheRemembersFailures(t *testing.T) {
	c := NewCache(4)
	_, err1 := c.Compile("a =")
	require.ErrorIs(t, err1, ErrInvalid)
	_, err2 := c.Compile("a =")
	require.Same(t, err1, err2)
	require.Equal(t, 1, c.Len())
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewCache(2)
	a, _ := c.Compile("a = 1")
	b, _ := c.Compile("b = 1")
	again, _ := c.Compile("a = 1") // a is now the most recent
	require.Same(t, a, again)
	_, _ = c.Compile("c = 1") // evicts b
	require.Equal(t, 2, c.Len())

	a2, _ := c.Compile("a = 1")
	require.Same(t, a, a2, "a was used recently and stays")
	b2, _ := c.Compile("b = 1")
	require.NotSame(t, b, b2, "b was evicted and compiled again")
	require.Equal(t, 2, c.Len())
}

func TestCacheSkipsHugeTexts(t *testing.T) {
	c := NewCache(4)
	huge := "a = '" + strings.Repeat("x", MaxCachedLen) + "'"
	e, err := c.Compile(huge)
	require.NoError(t, err)
	require.True(t, e.Match(Map{"a": strings.Repeat("x", MaxCachedLen)}))
	require.Zero(t, c.Len())
}

func TestCacheConcurrentUse(t *testing.T) {
	c := NewCache(8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				n := (g*7 + i) % 16
				e, err := c.Compile(fmt.Sprintf("n = %d", n))
				if err != nil || !e.Match(Map{"n": fmt.Sprint(n)}) {
					t.Errorf("n = %d: %v", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, c.Len(), 8)
}
