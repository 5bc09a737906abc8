//go:build !race

package chaos

// raceEnabled: the test runs without -race, and so do the vipgate processes.
const raceEnabled = false
