package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// moduleFile is dir/file of the module go.mod pins, once it exists: the
// module is downloaded first, because `go list -m` names no directory for a
// module the build has not needed yet (a fresh machine's empty module cache).
func moduleFile(module, dir, file string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("downloading module %s: %v", module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("downloading module %s: %v", module, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("downloading module %s: %s", module, m.Error)
	}
	path := filepath.Join(m.Dir, dir)
	if _, err := os.Stat(filepath.Join(path, file)); err != nil {
		return "", fmt.Errorf("%s of module %s: %v", file, module, err)
	}
	return path, nil
}
