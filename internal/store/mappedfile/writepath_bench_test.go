package mappedfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/store/vfs"
)

// BenchmarkWritePath compares the two ways to put 1 KiB records into a
// preallocated segment: memcpy into the shared mapping, or pwrite(2) on
// the descriptor (per record, or per 64 KiB batch), each with no flush
// ("async") or an fdatasync every 64 KiB (a group commit of 64 records).
// Run with -benchtime=200000x so one pass stays inside the 256 MiB file.
var syncEverys = []int{0, 64, 4096}

func BenchmarkWritePath(b *testing.B) {
	const (
		segSize = 256 << 20
		recSize = 1024
	)
	rec := make([]byte, recSize)
	for i := range rec {
		rec[i] = byte(i)
	}
	for _, warmed := range []bool{false, true} {
		for _, syncEvery := range syncEverys {
			for _, mode := range []string{"mmap", "pwrite1k", "pwrite64k"} {
				name := fmt.Sprintf("%s/warm=%v/syncEvery=%d", mode, warmed, syncEvery)
				b.Run(name, func(b *testing.B) {
					dir := b.TempDir()
					m, err := Create(vfs.Default, dir, 0, segSize, CreateOptions{Warm: warmed}, nil)
					if err != nil {
						b.Fatal(err)
					}
					defer m.Destroy()
					wf, err := os.OpenFile(filepath.Join(dir, FileName(0)), os.O_RDWR, 0)
					if err != nil {
						b.Fatal(err)
					}
					defer wf.Close()
					batch := make([]byte, 0, 64*recSize)
					var off int64
					b.SetBytes(recSize)
					faults0 := minorFaults()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if off+recSize > segSize {
							off = 0
						}
						switch mode {
						case "mmap":
							copy(m.data[off:off+recSize], rec)
						case "pwrite1k":
							if _, err := wf.WriteAt(rec, off); err != nil {
								b.Fatal(err)
							}
						case "pwrite64k":
							batch = append(batch, rec...)
							if len(batch) == cap(batch) {
								if _, err := wf.WriteAt(batch, off+recSize-int64(len(batch))); err != nil {
									b.Fatal(err)
								}
								batch = batch[:0]
							}
						}
						off += recSize
						if syncEvery > 0 && (i+1)%syncEvery == 0 {
							if err := m.f.Sync(); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(minorFaults()-faults0)/float64(b.N), "faults/rec")
				})
			}
		}
	}
}

// BenchmarkFlushAfter measures one fdatasync after 4 MiB of 1 KiB records
// written through the shared mapping or with 64 KiB pwrites, on a warmed
// segment; ns/op is per record, the flush cost spread over the 4096
// records it covers.
func BenchmarkFlushAfter(b *testing.B) {
	const (
		segSize = 256 << 20
		recSize = 1024
		batch   = 4 << 20
	)
	rec := make([]byte, recSize)
	for _, mode := range []string{"mmap", "pwrite64k"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			m, err := Create(vfs.Default, dir, 0, segSize, CreateOptions{Warm: true}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Destroy()
			buf := make([]byte, 64<<10)
			var off int64
			var writeNs, syncNs int64
			b.SetBytes(recSize)
			b.ResetTimer()
			for i := 0; i < b.N; i += batch / recSize {
				if off+batch > segSize {
					off = 0
				}
				t0 := nanotime()
				if mode == "mmap" {
					for p := int64(0); p < batch; p += recSize {
						copy(m.data[off+p:], rec)
					}
				} else {
					for p := int64(0); p < batch; p += int64(len(buf)) {
						for q := 0; q < len(buf); q += recSize {
							copy(buf[q:], rec)
						}
						if _, err := m.f.WriteAt(buf, off+p); err != nil {
							b.Fatal(err)
						}
					}
				}
				t1 := nanotime()
				if err := m.f.Sync(); err != nil {
					b.Fatal(err)
				}
				syncNs += nanotime() - t1
				writeNs += t1 - t0
				off += batch
			}
			b.ReportMetric(float64(writeNs)/float64(b.N), "write-ns/rec")
			b.ReportMetric(float64(syncNs)/float64(b.N), "sync-ns/rec")
		})
	}
}

func nanotime() int64 { return time.Now().UnixNano() }

// minorFaults returns the process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}
