// Package buildinfo reports which build of prawn is running.
package buildinfo

import "runtime/debug"

// Version is set at link time (-X); otherwise it comes from the module's build information.
var Version = ""

// String is the version of this binary, "devel" when unknown.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "devel"
}
