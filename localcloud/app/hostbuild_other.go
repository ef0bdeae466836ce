//go:build !unix

package app

import "os"

// lockDir does not lock where flock is missing: the bootstraps run behind
// aws-lambda-rie, which needs a Unix host anyway.
func lockDir(string) (func(), error) { return func() {}, nil }

func openUnlogged(path string, flag int) (*os.File, error) { return os.OpenFile(path, flag, 0o644) }
