package rollup_test

import (
	"testing"

	"github.com/prawnhq/prawn/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
