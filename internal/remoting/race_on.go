//go:build race

package remoting

// raceEnabled: see rx.go.
const raceEnabled = true
