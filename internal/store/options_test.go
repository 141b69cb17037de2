package store

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultOptionsAreJavas(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	require.Equal(t, int64(1<<30), o.MappedFileSizeCommitLog)
	require.Equal(t, int64(6_000_000), o.MappedFileSizeConsumeQueue)
	require.Equal(t, int64(300_000), o.unitsPerConsumeQueueFile())
	require.Equal(t, AsyncFlush, o.FlushDiskType)
	require.Equal(t, 4<<20, o.MaxMessageSize)
	require.Equal(t, 72, o.FileReservedTime)
	require.Equal(t, "04", o.DeleteWhen)
	require.Equal(t, 75, o.DiskMaxUsedSpaceRatio)
	require.Equal(t, int64(5000), o.SyncFlushTimeout)
}

// Every field the config loader can set has a prop tag with a simple type.
func TestOptionsPropTags(t *testing.T) {
	typ := reflect.TypeFor[Options]()
	seen := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("prop")
		require.NotEmpty(t, tag, "field %s has no prop tag", f.Name)
		if tag == "-" {
			continue
		}
		require.False(t, seen[tag], "duplicate tag %s", tag)
		seen[tag] = true
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		default:
			t.Errorf("field %s has type %s", f.Name, f.Type)
		}
	}
	require.True(t, seen["flushDiskType"] && seen["storePathRootDir"] && seen["messageDelayLevel"])
}

func TestValidateReportsEveryProblem(t *testing.T) {
	o := DefaultOptions()
	o.FlushDiskType = "SOMETIMES"
	o.DeleteWhen = "25"
	o.MessageDelayLevel = "1x"
	o.DiskMaxUsedSpaceRatio = 0
	o.MappedFileSizeCommitLog = 100
	err := o.Validate()
	require.Error(t, err)
	for _, want := range []string{"flushDiskType", "deleteWhen", "messageDelayLevel", "diskMaxUsedSpaceRatio", "mappedFileSizeCommitLog"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestParseDelayLevels(t *testing.T) {
	got, err := ParseDelayLevels("1s 5s 1m 2h 1d")
	require.NoError(t, err)
	require.Equal(t, []int64{1000, 5000, 60_000, 7_200_000, 86_400_000}, got)
	for _, bad := range []string{"", "5", "s", "-1s", "1w"} {
		_, err := ParseDelayLevels(bad)
		require.Error(t, err, bad)
	}
}
