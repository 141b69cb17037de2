package configfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

type table struct {
	Items map[string]int `json:"items"`
}

// decodeInto returns a decoder that adopts the table only when it parses.
func decodeInto(dst *table) func([]byte) error {
	return func(b []byte) error {
		var t table
		if err := protocol.UnmarshalLenient(b, &t); err != nil {
			return err
		}
		if t.Items == nil {
			return errors.New("no items")
		}
		*dst = t
		return nil
	}
}

func newFile(t *testing.T, fsys vfs.FS) (*File, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	opts := DefaultOptions()
	opts.FS = fsys
	f, err := New(filepath.Join(Dir(t.TempDir()), "t.json"), opts, log)
	require.NoError(t, err)
	return f, &logs
}

func save(t *testing.T, f *File, items map[string]int) {
	t.Helper()
	b, err := Marshal(table{Items: items})
	require.NoError(t, err)
	require.NoError(t, f.Save(b))
}

func load(t *testing.T, f *File) (table, bool) {
	t.Helper()
	var got table
	found, err := f.Load(decodeInto(&got))
	require.NoError(t, err)
	return got, found
}

func writeRaw(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestSaveLoadRoundTrip(t *testing.T) {
	f, _ := newFile(t, nil)
	_, found := load(t, f)
	require.False(t, found, "fresh directory")

	save(t, f, map[string]int{"a": 1})
	got, found := load(t, f)
	require.True(t, found)
	require.Equal(t, map[string]int{"a": 1}, got.Items)

	save(t, f, map[string]int{"a": 2, "b": 3})
	got, _ = load(t, f)
	require.Equal(t, map[string]int{"a": 2, "b": 3}, got.Items)

	// The previous table is kept as the backup; no temp file is left.
	bak, err := os.ReadFile(f.Path() + BakSuffix)
	require.NoError(t, err)
	require.JSONEq(t, `{"items":{"a":1}}`, string(bak))
	_, err = os.Stat(f.Path() + TmpSuffix)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestLoadFallsBackToBackup(t *testing.T) {
	for _, tc := range []struct {
		name, main string // main "" = absent
		wantLog    string
	}{
		{"main missing (crash between renames)", "", "save was interrupted"},
		{"main truncated", `{"items":{"a":`, "changes of the last save are lost"},
		{"main garbage", "\x00\x01\xff", "changes of the last save are lost"},
		{"main rejected by decoder", `{"other":1}`, "changes of the last save are lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, logs := newFile(t, nil)
			writeRaw(t, f.Path()+BakSuffix, `{"items":{"good":7}}`)
			if tc.main != "" {
				writeRaw(t, f.Path(), tc.main)
			}
			got, found := load(t, f)
			require.True(t, found)
			require.Equal(t, map[string]int{"good": 7}, got.Items)
			require.Contains(t, logs.String(), tc.wantLog)
		})
	}
}

func TestLoadEmptyFiles(t *testing.T) {
	f, logs := newFile(t, nil)
	writeRaw(t, f.Path(), " \n")
	got, found := load(t, f)
	require.False(t, found, "an empty file holds no table")
	require.Nil(t, got.Items)
	require.Contains(t, logs.String(), "empty file")

	// An empty main file with a good backup loads the backup.
	writeRaw(t, f.Path()+BakSuffix, `{"items":{}}`)
	got, found = load(t, f)
	require.True(t, found)
	require.Equal(t, map[string]int{}, got.Items)
}

func TestLoadCorruptWithoutGoodBackupFails(t *testing.T) {
	for _, bak := range []string{"", `{"items":`} {
		f, _ := newFile(t, nil)
		writeRaw(t, f.Path(), `{"items":{"a":1}`)
		if bak != "" {
			writeRaw(t, f.Path()+BakSuffix, bak)
		}
		var got table
		found, err := f.Load(decodeInto(&got))
		require.False(t, found)
		require.ErrorIs(t, err, ErrCorrupt)
		require.Contains(t, err.Error(), f.Path(), "the error names the file")
		require.Nil(t, got.Items, "nothing adopted")
	}
}

func TestLoadTooLarge(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxSize = 16
	f, err := New(filepath.Join(t.TempDir(), "t.json"), opts, nil)
	require.NoError(t, err)
	writeRaw(t, f.Path(), `{"items":{"aaaaaaaaaaaaaaaa":1}}`)
	_, err = f.Load(decodeInto(&table{}))
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorIs(t, err, ErrCorrupt)

	writeRaw(t, f.Path()+BakSuffix, `{"items":{}}`)
	found, err := f.Load(decodeInto(&table{}))
	require.NoError(t, err)
	require.True(t, found, "falls back to a backup within the limit")
}

func TestLoadIOErrorIsNotMaskedByBackup(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	f, _ := newFile(t, ffs)
	save(t, f, map[string]int{"old": 1})
	save(t, f, map[string]int{"new": 2})
	ffs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpOpen && path == f.Path() {
			return vfs.ErrInjected
		}
		return nil
	})
	_, err := f.Load(decodeInto(&table{}))
	require.ErrorIs(t, err, vfs.ErrInjected)
	require.NotErrorIs(t, err, ErrCorrupt)
}

func TestSaveFailuresKeepTheGoodFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(f *File) func(vfs.Op, string) error
	}{
		{"temp write fails", func(f *File) func(vfs.Op, string) error {
			return failOn(vfs.OpWrite, f.Path()+TmpSuffix)
		}},
		{"temp fsync fails", func(f *File) func(vfs.Op, string) error {
			return failOn(vfs.OpSync, f.Path()+TmpSuffix)
		}},
		{"backup rename fails", func(f *File) func(vfs.Op, string) error {
			return failOn(vfs.OpRename, f.Path()+BakSuffix)
		}},
		{"final rename fails", func(f *File) func(vfs.Op, string) error {
			var once sync.Once
			return func(op vfs.Op, path string) error {
				var err error
				if op == vfs.OpRename && path == f.Path() {
					once.Do(func() { err = vfs.ErrInjected }) // the restore may rename onto it
				}
				return err
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := vfs.NewFaultFS(vfs.Default)
			f, _ := newFile(t, ffs)
			save(t, f, map[string]int{"good": 1})

			ffs.SetRule(tc.fail(f))
			b, err := Marshal(table{Items: map[string]int{"lost": 2}})
			require.NoError(t, err)
			err = f.Save(b)
			require.ErrorIs(t, err, vfs.ErrInjected)
			require.Contains(t, err.Error(), f.Path())
			ffs.SetRule(nil)

			got, found := load(t, f)
			require.True(t, found)
			require.Equal(t, map[string]int{"good": 1}, got.Items)
			raw, err := os.ReadFile(f.Path())
			require.NoError(t, err, "the main file is still there")
			require.Contains(t, string(raw), "good")

			// The next save works.
			save(t, f, map[string]int{"next": 3})
			got, _ = load(t, f)
			require.Equal(t, map[string]int{"next": 3}, got.Items)
		})
	}
}

// TestSaveWhoseDirectorySyncFails: the rename is done, so the save counts
// (memory and file agree) and the failed sync is logged.
func TestSaveWhoseDirectorySyncFails(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	f, logs := newFile(t, ffs)
	save(t, f, map[string]int{"old": 1})
	ffs.SetRule(failOn(vfs.OpSyncDir, filepath.Dir(f.Path())))
	save(t, f, map[string]int{"new": 2})
	ffs.SetRule(nil)
	got, _ := load(t, f)
	require.Equal(t, map[string]int{"new": 2}, got.Items)
	require.Contains(t, logs.String(), "directory entry not synced")
}

func failOn(op vfs.Op, path string) func(vfs.Op, string) error {
	return func(o vfs.Op, p string) error {
		if o == op && p == path {
			return vfs.ErrInjected
		}
		return nil
	}
}

// tornFS writes only the first half of a file, then fails, as a crash in
// the middle of a write would leave it.
type tornFS struct{ vfs.FS }

func (t tornFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := t.FS.OpenFile(name, flag, perm)
	if err != nil || flag&os.O_WRONLY == 0 {
		return f, err
	}
	return tornFile{f}, nil
}

type tornFile struct{ vfs.File }

func (t tornFile) WriteAt(p []byte, off int64) (int, error) {
	n, _ := t.File.WriteAt(p[:len(p)/2], off)
	return n, errors.New("torn write")
}

func TestTornTempFileNeverReplacesTheGoodOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.json")
	good, err := New(path, DefaultOptions(), nil)
	require.NoError(t, err)
	save(t, good, map[string]int{"good": 1})

	opts := DefaultOptions()
	opts.FS = tornFS{vfs.Default}
	torn, err := New(path, opts, nil)
	require.NoError(t, err)
	b, _ := Marshal(table{Items: map[string]int{"torn": 2}})
	require.Error(t, torn.Save(b))

	got, found := load(t, good)
	require.True(t, found)
	require.Equal(t, map[string]int{"good": 1}, got.Items)

	// A temp file a crash left behind is ignored and overwritten.
	writeRaw(t, path+TmpSuffix, `{"items":{"tor`)
	got, _ = load(t, good)
	require.Equal(t, map[string]int{"good": 1}, got.Items)
	save(t, good, map[string]int{"after": 3})
	got, _ = load(t, good)
	require.Equal(t, map[string]int{"after": 3}, got.Items)
}

func TestConcurrentSavesLeaveOneWholeTable(t *testing.T) {
	f, _ := newFile(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			b, _ := Marshal(table{Items: map[string]int{fmt.Sprint("k", i): i}})
			require.NoError(t, f.Save(b))
		})
	}
	wg.Wait()
	got, found := load(t, f)
	require.True(t, found)
	require.Len(t, got.Items, 1)
}

func TestMarshalIsReadableLeniently(t *testing.T) {
	b, err := Marshal(map[string]map[int32]int64{"t@g": {0: 12, 1: 7}})
	require.NoError(t, err)
	require.True(t, json.Valid(b))
	require.True(t, strings.HasSuffix(string(b), "\n"))
	require.Contains(t, string(b), "\n\t\"t@g\"")
	var back map[string]map[int32]int64
	require.NoError(t, protocol.UnmarshalLenient(b, &back))
	require.Equal(t, int64(7), back["t@g"][1])
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	o.MaxSize = 0
	require.Error(t, o.Validate())
	_, err := New("x", o, nil)
	require.Error(t, err)
}

func TestSaveCreatesTheDirectoryDurably(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	var synced []string
	ffs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpSyncDir {
			synced = append(synced, path)
		}
		return nil
	})
	f, _ := newFile(t, ffs) // {tmp}/config does not exist yet
	save(t, f, map[string]int{"a": 1})
	dir := filepath.Dir(f.Path())
	require.Equal(t, []string{filepath.Dir(dir), dir}, synced, "the new directory's entry, then the file's")

	synced = nil
	save(t, f, map[string]int{"a": 2})
	require.Equal(t, []string{dir}, synced)
}
