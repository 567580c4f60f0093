package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisHook returns a go-redis hook recording every command's and
// pipeline's round trip (regkit_redis_command_duration_seconds, label
// command: the command's name, "pipeline" or "multi") and failures
// (regkit_redis_command_errors_total; a nil reply is not one). Add it to
// the client of a Redis metadata store with AddHook.
func (m *Metrics) RedisHook() redis.Hook {
	m.redisOnce.Do(func() {
		m.redisOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "redis_command_duration_seconds",
			Help: "Round trips to Redis by command (pipeline, multi for batches).", Buckets: opBuckets}, []string{"command"})
		m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "redis_command_errors_total",
			Help: "Redis commands and batches that failed (nil replies excluded), by command."}, []string{"command"})
		m.reg.MustRegister(m.redisOps, m.redisErrors)
	})
	return redisHook{m}
}

type redisHook struct{ m *Metrics }

func (h redisHook) observe(name string, start time.Time, err error) {
	h.m.redisOps.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		h.m.redisErrors.WithLabelValues(name).Inc()
	}
}

// DialHook implements redis.Hook.
func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t := time.Now()
		err := next(ctx, cmd)
		h.observe(strings.ToLower(cmd.Name()), t, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t := time.Now()
		err := next(ctx, cmds)
		name := "pipeline"
		if len(cmds) > 0 && strings.EqualFold(cmds[0].Name(), "multi") {
			name = "multi"
		}
		h.observe(name, t, err)
		return err
	}
}
