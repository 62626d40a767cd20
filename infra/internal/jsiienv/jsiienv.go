// Package jsiienv sets the jsii runtime's environment defaults; import it for its side effect.
//
// The jsii kernel captures the environment when aws-cdk-go's packages register their types, during
// package initialization, so TestMain or main are too late. Go initializes packages in import-path
// order once their imports are ready (Go 1.21+), and this package needs only os, so it runs before
// jsii-runtime-go's kernel (which needs os/exec and more) can start.
package jsiienv

import (
	"os"
	"path/filepath"
)

func init() {
	// Node 20 works but makes jsii print an end-of-life banner on every run.
	setDefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	// Else jsii keeps ~210 MB of unpacked packages in ~/.cache/aws/jsii.
	setDefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", filepath.Join(os.TempDir(), "prawn-jsii-cache"))
}

func setDefault(name, value string) {
	if os.Getenv(name) == "" {
		os.Setenv(name, value)
	}
}
