package longpoll

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder collects re-runs with the (fake) time they happened.
type recorder struct {
	mu   sync.Mutex
	runs map[string]time.Time
}

func (r *recorder) run(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.runs[p]; dup {
		panic("re-run twice: " + p)
	}
	r.runs[p] = time.Now()
}

func (r *recorder) get(p string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.runs[p]
	return at, ok
}

type heads struct {
	mu sync.Mutex
	m  map[Key]int64
}

func (h *heads) newest(k Key) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[k]
}

func (h *heads) set(k Key, v int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[k] = v
}

func newTestService(t *testing.T, stale func(string) bool) (*Service[string], *recorder, *heads) {
	t.Helper()
	rec := &recorder{runs: map[string]time.Time{}}
	hd := &heads{m: map[Key]int64{}}
	s, err := New(DefaultOptions(), Funcs[string]{Run: rec.run, Newest: hd.newest, Stale: stale}, nil)
	require.NoError(t, err)
	s.Start()
	return s, rec, hd
}

func TestServiceWakesOnMatchingArrivalOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rec, hd := newTestService(t, nil)
		defer s.Close()
		start := time.Now()
		require.True(t, s.Hold(qa0, 3, 20*time.Second, tagMatcher{codes: []int64{7}}, "tagged"))
		require.Equal(t, 1, s.Len())

		hd.set(qa0, 4)
		s.OnArrival("a", 0, 3, 99, []byte("p")) // wrong tag: stays held
		synctest.Wait()
		_, ran := rec.get("tagged")
		require.False(t, ran)

		time.Sleep(time.Second) // fake time
		hd.set(qa0, 5)
		s.OnArrival("a", 0, 4, 7, []byte("p"))
		synctest.Wait()
		at, ran := rec.get("tagged")
		require.True(t, ran)
		require.Equal(t, time.Second, at.Sub(start), "woken at the arrival, not at a re-check")
		require.Zero(t, s.Len())
	})
}

func TestServiceExpiresAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rec, _ := newTestService(t, nil)
		defer s.Close()
		start := time.Now()
		require.True(t, s.Hold(qa0, 0, 1500*time.Millisecond, nil, "short"))
		require.True(t, s.Hold(qa1, 0, 20*time.Second, nil, "long"))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		at, ok := rec.get("short")
		require.True(t, ok)
		require.Equal(t, 1500*time.Millisecond, at.Sub(start), "expired at its deadline, before the 5 s re-check")
		_, ok = rec.get("long")
		require.False(t, ok)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		at, ok = rec.get("long")
		require.True(t, ok)
		require.Equal(t, 20*time.Second, at.Sub(start))
	})
}

func TestServiceRecheckFindsMissedArrivalsAndStaleRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rec, hd := newTestService(t, func(p string) bool { return p == "closed-conn" })
		defer s.Close()
		start := time.Now()
		require.True(t, s.Hold(qa0, 2, time.Minute, tagMatcher{codes: []int64{1}}, "filtered"))
		require.True(t, s.Hold(qb0, 0, time.Minute, nil, "closed-conn"))
		require.True(t, s.Hold(qa1, 0, time.Minute, nil, "idle"))
		hd.set(qa0, 3) // a message landed without an arrival call
		time.Sleep(JavaRecheckInterval)
		synctest.Wait()
		for _, p := range []string{"filtered", "closed-conn"} {
			at, ok := rec.get(p)
			require.True(t, ok, p)
			require.Equal(t, JavaRecheckInterval, at.Sub(start), p)
		}
		_, ok := rec.get("idle")
		require.False(t, ok)
		require.Equal(t, 1, s.Len())
	})
}

func TestServiceHoldSeesMessageThatLandedBeforeIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rec, hd := newTestService(t, nil)
		defer s.Close()
		hd.set(qa0, 8) // the pull read offset 7 as empty, then a message landed
		require.True(t, s.Hold(qa0, 7, time.Minute, tagMatcher{codes: []int64{1}}, "raced"))
		synctest.Wait()
		_, ok := rec.get("raced")
		require.True(t, ok, "re-run at once, filter or not: the re-run filters")
		require.Zero(t, s.Len())
	})
}

func TestServiceCloseAnswersEveryHeldRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, rec, _ := newTestService(t, nil)
		for _, p := range []string{"a", "b", "c"} {
			require.True(t, s.Hold(qa0, 0, time.Hour, nil, p))
		}
		s.Close()
		for _, p := range []string{"a", "b", "c"} {
			_, ok := rec.get(p)
			require.True(t, ok, p)
		}
		require.False(t, s.Hold(qa0, 0, time.Hour, nil, "late"), "a closed service holds nothing")
		s.OnArrival("a", 0, 100, 0, nil) // harmless
		s.Close()                        // idempotent
	})
}

func TestServiceNotStartedHoldsNothing(t *testing.T) {
	s, err := New(DefaultOptions(), Funcs[string]{Run: func(string) {}, Newest: func(Key) int64 { return 0 }}, nil)
	require.NoError(t, err)
	require.False(t, s.Hold(qa0, 0, time.Second, nil, "x"))
	s.Close()
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, DefaultOptions().Validate())
	require.ErrorIs(t, Options{Workers: 1}.Validate(), ErrInvalidOptions)
	require.ErrorIs(t, Options{RecheckInterval: time.Second}.Validate(), ErrInvalidOptions)
	_, err := New(DefaultOptions(), Funcs[string]{}, nil)
	require.ErrorIs(t, err, ErrInvalidOptions)
}
