package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Timeouts of the HTTP server: a scraper reads a few hundred KB at most (per-VMI series of a
// few thousand VMIs), well within these; they only stop a stuck client from holding a
// connection.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	shutdownTimeout   = 2 * time.Second
)

var log = logrus.WithField(logging.Component, "metrics")

// Serve listens on address (host:port) and serves the metrics at Path until ctx ends. It
// returns once listening, with the address it listens on, so that an address in use is an
// error at the agent's start.
func (m *Metrics) Serve(ctx context.Context, address string) (net.Addr, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s ([DEFAULT] metrics_address): %w", address, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorLog: errorLog{}}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: writeTimeout}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).WithField(logging.Address, address).Error("metrics server stopped")
		}
	}()
	log.WithField(logging.Address, ln.Addr().String()).Infof("serving metrics at http://%s%s", ln.Addr(), Path)
	return ln.Addr(), nil
}

// errorLog hands promhttp's errors (a metric that could not be gathered) to logrus.
type errorLog struct{}

func (errorLog) Println(v ...any) { log.Warn(v...) }
