//go:build unix

package lambda

import (
	"os/exec"
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
