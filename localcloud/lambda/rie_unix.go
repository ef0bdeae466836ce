//go:build unix

package lambda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// setProcessGroup puts aws-lambda-rie in its own process group, so that
// killing the group also ends the bootstrap it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stopProcessGroup asks the emulator to shut down (it stops the runtime
// first); killProcessGroup ends the emulator and the bootstrap at once.
func stopProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killChildren kills the processes the emulator started (the bootstrap) with
// SIGKILL, leaving the emulator itself to report the runtime's death.
func killChildren(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	for _, pid := range childPIDs(cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// childPIDs lists the children of parent: from /proc where there is one
// (Linux), otherwise from pgrep -P.
func childPIDs(parent int) []int {
	var out []int
	if stats, err := filepath.Glob("/proc/[0-9]*/stat"); err == nil && len(stats) > 0 {
		for _, f := range stats {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // exited meanwhile
			}
			// pid (comm) state ppid …; comm may hold spaces and parentheses.
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 {
				continue
			}
			fields := strings.Fields(s[i+1:])
			if len(fields) < 2 {
				continue
			}
			if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == parent {
				if pid, err := strconv.Atoi(strings.Fields(s)[0]); err == nil {
					out = append(out, pid)
				}
			}
		}
		return out
	}
	b, _ := exec.Command("pgrep", "-P", strconv.Itoa(parent)).Output()
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
