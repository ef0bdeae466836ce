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
