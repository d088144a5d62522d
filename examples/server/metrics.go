package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// newMetrics returns the MeterProvider that the Issuer and the Verifier
// record into, and the handler that serves what they recorded to
// Prometheus. The library speaks only the otel API; the SDK and the
// exporter are the application's choice, and this is the demo's. Each
// server has a registry of its own, so that the tests' servers do not
// share one.
func newMetrics() (*sdkmetric.MeterProvider, http.Handler, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)), promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
