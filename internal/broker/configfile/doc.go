// Package configfile is the persistence under the broker's metadata
// managers (topics, consumer offsets, subscription groups): RocketMQ's
// ConfigManager, with a safer write.
//
// # Files
//
// Each manager owns one JSON file in the broker's config directory:
//
//	{storePathRootDir}/config/<name>.json       the current table
//	{storePathRootDir}/config/<name>.json.bak   the table before the last save
//	{storePathRootDir}/config/<name>.json.tmp   a save in progress (ignored on load)
//
// These are the names and forms a Java broker uses (BrokerPathConfigHelper),
// so a Java broker's config directory can be read and ours can be read by
// Java. Files are written as indented standard JSON (Java writes them
// pretty-printed too); they are read with protocol.UnmarshalLenient, which
// also takes fastjson's bare numeric map keys ({0:12}).
//
// # Save
//
// A save never leaves the directory without a good copy of the table:
//
//  1. write <name>.json.tmp (truncated first) and fsync it;
//  2. rename <name>.json to <name>.json.bak, if it exists;
//  3. rename <name>.json.tmp to <name>.json;
//  4. fsync the directory.
//
// A failure in step 1 (a torn or unsynced temp file) leaves <name>.json as
// it was. A crash between steps 2 and 3 leaves only the .bak, which Load
// falls back to. A failure in step 4 comes after the new file is in place:
// the save succeeds (so the caller's table and the file agree) and logs
// that the change may not survive a crash until the next save. Saves of
// one File are serialized.
//
// # Load
//
// Load reads <name>.json and hands it to the caller's decoder. When the file
// is missing, empty, larger than Options.MaxSize or rejected by the decoder,
// it logs why and tries <name>.json.bak the same way. The outcomes:
//
//   - main file good: loaded;
//   - main file missing or empty, backup good or absent: the backup, or
//     nothing (a fresh broker);
//   - main file corrupt, backup good: the backup, with a warning (the
//     changes of the last save are lost);
//   - main file corrupt and no good backup: an error naming both files.
//     Java starts empty in this case; we refuse, since starting empty
//     would overwrite the only copy of the table at the next save. Remove
//     the file to start fresh deliberately.
//
// An I/O error other than "does not exist" (permissions, EIO) is returned
// as is: the backup is only for files whose content is bad.
package configfile
