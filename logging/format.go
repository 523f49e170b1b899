package logging

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// The values of [DEFAULT] log_format.
const (
	FormatText = "text" // logrus's key=value lines, for people (the default)
	FormatJSON = "json" // one JSON object per line, for log shippers
)

// Formats lists the values of log_format, the default first.
var Formats = []string{FormatText, FormatJSON}

// Formatter returns the formatter of a log_format value. Both give every line the same keys:
// time (RFC 3339), level, msg and the line's fields.
func Formatter(format string) (logrus.Formatter, error) {
	switch format {
	case FormatText, "":
		return &logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339}, nil
	case FormatJSON:
		return &jsonFormatter{logrus.JSONFormatter{TimestampFormat: time.RFC3339}}, nil
	}
	return nil, fmt.Errorf("%q is not a log format (want %s or %s)", format, FormatText, FormatJSON)
}

// jsonFormatter writes a field's value as the text format shows it when the value has a text
// form of its own (a time.Duration is "1.5s", not 1500000000 nanoseconds), so that a shipper
// reads the same values as a person; errors are their message, as logrus does for them.
type jsonFormatter struct{ logrus.JSONFormatter }

func (f *jsonFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var data logrus.Fields
	for k, v := range e.Data {
		switch v.(type) {
		case error, fmt.Stringer:
		default:
			continue
		}
		if data == nil {
			data = make(logrus.Fields, len(e.Data))
			for k, v := range e.Data {
				data[k] = v
			}
		}
		data[k] = fmt.Sprint(v) // as the text format prints it, a nil pointer included
	}
	if data != nil {
		c := *e // the entry other hooks and the caller hold stays unchanged
		c.Data = data
		e = &c
	}
	return f.JSONFormatter.Format(e)
}
