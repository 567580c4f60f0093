package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Machine describes the computer a benchmark ran on.
type Machine struct {
	// CPU is the processor model ("" when unknown).
	CPU string
	// NumCPU is runtime.NumCPU().
	NumCPU int
	// OS and Arch are GOOS and GOARCH.
	OS, Arch string
	// GoVersion is runtime.Version().
	GoVersion string
}

// ThisMachine describes the running machine; the CPU model comes from
// /proc/cpuinfo where there is one.
func ThisMachine() Machine {
	return Machine{
		CPU:       cpuModel(),
		NumCPU:    runtime.NumCPU(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		GoVersion: runtime.Version(),
	}
}

// String returns one line, e.g. "2 CPUs (Intel Xeon), linux/amd64, go1.26".
func (m Machine) String() string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	return fmt.Sprintf("%d CPUs (%s), %s/%s, %s", m.NumCPU, cpu, m.OS, m.Arch, m.GoVersion)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "cpu model", "Hardware":
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// LoadAvg returns the machine's load average over 1, 5 and 15 minutes
// ("0.52 0.30 0.20", the start of /proc/loadavg), or "" where there is
// none.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
