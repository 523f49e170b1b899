package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// logLine logs one line with fields through the format's formatter and returns what it wrote.
func logLine(t *testing.T, format string) string {
	t.Helper()
	f, err := Formatter(format)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	l := logrus.New()
	l.SetOutput(&out)
	l.SetFormatter(f)
	l.WithFields(logrus.Fields{Component: "tor", Object: "torSwitches[tor1]", Endpoint: "tcp:192.168.100.10:6640",
		"retryIn": 1500 * time.Millisecond, "ports": []string{"eth1", "eth2"}, Failures: 3}).
		WithError(errors.New("connection refused")).Warn("cannot reach the switch's OVSDB; retrying")
	return out.String()
}

// The JSON format writes one parseable JSON object per line, with the keys and values the text
// format writes: a shipper sees what a person reads.
func TestJSONLinesCarryTheTextFormatsFields(t *testing.T) {
	line := logLine(t, FormatJSON)
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("not one line: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	want := map[string]any{
		"level": "warning", "msg": "cannot reach the switch's OVSDB; retrying", "error": "connection refused",
		Component: "tor", Object: "torSwitches[tor1]", Endpoint: "tcp:192.168.100.10:6640",
		"retryIn": "1.5s", "ports": []any{"eth1", "eth2"}, Failures: float64(3),
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !equalJSON(g, v) {
			t.Errorf("%s = %#v, want %#v (line %s)", k, got[k], v, line)
		}
	}
	if ts, _ := got["time"].(string); ts == "" {
		t.Errorf("no time: %s", line)
	} else if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", ts, err)
	}
	text := logLine(t, FormatText)
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		return ks
	}
	for _, k := range keys(got) {
		if !strings.Contains(text, k+"=") {
			t.Errorf("JSON key %q is not a field of the text format: %s", k, text)
		}
	}
	if !strings.Contains(text, "retryIn=1.5s") {
		t.Errorf("text format changed its duration: %s", text)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestUnknownFormatIsAnError(t *testing.T) {
	if _, err := Formatter("yaml"); err == nil || !strings.Contains(err.Error(), `"yaml" is not a log format`) {
		t.Fatalf("want an error naming the value, got %v", err)
	}
}

// A Stringer that is a nil pointer is written as the text format writes it, not a panic.
func TestJSONNilStringer(t *testing.T) {
	f, _ := Formatter(FormatJSON)
	var d *nilStringer
	out, err := f.Format(&logrus.Entry{Data: logrus.Fields{"x": d}, Message: "m"})
	if err != nil || !json.Valid(out) {
		t.Fatalf("%v: %s", err, out)
	}
}

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s }
