//go:build !unix

package lambda

import "os/exec"

func setProcessGroup(*exec.Cmd) {}

func stopProcessGroup(cmd *exec.Cmd) { killProcessGroup(cmd) }

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// killChildren cannot single out the bootstrap here: the whole environment
// ends, and the invocation fails as the emulator's connection drops.
func killChildren(cmd *exec.Cmd) { killProcessGroup(cmd) }
