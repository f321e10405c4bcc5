//go:build tools

// Package tools pins the Pulumi CLI and its Python plugin shims for the testbed.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
