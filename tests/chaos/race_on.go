//go:build race

package chaos

// raceEnabled: the test runs with -race, so the vipgate processes are built with it too.
const raceEnabled = true
