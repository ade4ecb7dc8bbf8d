// Package template holds the oracle's copies of Prometheus's and Alertmanager's template data
// types and functions, in a package named like theirs so that Go prints the same type names.
package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
)

type SampleIn struct {
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// ---------------------------------------------------------------- Prometheus 2.42

type sample struct {
	Labels map[string]string
	Value  float64
}
type queryResult []*sample

func convertToFloat(i interface{}) (float64, error) {
	switch v := i.(type) {
	case float64:
		return v, nil
	case string:
		return strconv.ParseFloat(v, 64)
	case int:
		return float64(v), nil
	case uint:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	default:
		return 0, fmt.Errorf("can't convert %T to float", v)
	}
}

var errNaNOrInf = errors.New("value is NaN or Inf")

func floatToTime(v float64) (*time.Time, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, errNaNOrInf
	}
	timestamp := v * 1e9
	if timestamp > math.MaxInt64 || timestamp < math.MinInt64 {
		return nil, fmt.Errorf("%v cannot be represented as a nanoseconds timestamp since it overflows int64", v)
	}
	ms := int64(timestamp) / 1e6
	t := time.Unix(ms/1000, (ms%1000)*int64(time.Millisecond)).UTC()
	return &t, nil
}

func humanizeScaled(v float64) string {
	if math.Abs(v) >= 1 {
		prefix := ""
		for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
			if math.Abs(v) < 1000 {
				break
			}
			prefix = p
			v /= 1000
		}
		return fmt.Sprintf("%.4g%s", v, prefix)
	}
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(v) >= 1 {
			break
		}
		prefix = p
		v *= 1000
	}
	return fmt.Sprintf("%.4g%s", v, prefix)
}

var durationRE = regexp.MustCompile("^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$")

func parseModelDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty duration string")
	}
	m := durationRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("not a valid duration string: %q", s)
	}
	var d time.Duration
	units := []time.Duration{365 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second, time.Millisecond}
	for i, u := range units {
		if m[2*i+2] == "" {
			continue
		}
		n, _ := strconv.Atoi(m[2*i+2])
		d += time.Duration(n) * u
	}
	return d, nil
}

// PromFuncs are Prometheus 2.42's template functions.
func PromFuncs(evalTime float64, queries map[string][]SampleIn, externalURL string) template.FuncMap {
	u, _ := url.Parse(externalURL)
	return template.FuncMap{
		"query": func(q string) (queryResult, error) {
			samples, ok := queries[q]
			if !ok {
				return nil, fmt.Errorf("unknown query %q", q)
			}
			res := make(queryResult, len(samples))
			for i, s := range samples {
				res[i] = &sample{Labels: s.Labels, Value: s.Value}
			}
			return res, nil
		},
		"first": func(v queryResult) (*sample, error) {
			if len(v) > 0 {
				return v[0], nil
			}
			return nil, errors.New("first() called on vector with no elements")
		},
		"label":    func(label string, s *sample) string { return s.Labels[label] },
		"value":    func(s *sample) float64 { return s.Value },
		"strvalue": func(s *sample) string { return s.Labels["__value__"] },
		"args": func(args ...interface{}) map[string]interface{} {
			result := make(map[string]interface{})
			for i, a := range args {
				result[fmt.Sprintf("arg%d", i)] = a
			}
			return result
		},
		"reReplaceAll": func(pattern, repl, text string) string {
			return regexp.MustCompile(pattern).ReplaceAllString(text, repl)
		},
		"safeHtml":  func(text string) string { return text },
		"match":     regexp.MatchString,
		"title":     strings.Title, //nolint:staticcheck // Prometheus 2.42 uses it.
		"toUpper":   strings.ToUpper,
		"toLower":   strings.ToLower,
		"graphLink": func(e string) string { return fmt.Sprintf("/graph?g0.expr=%s&g0.tab=0", url.QueryEscape(e)) },
		"tableLink": func(e string) string { return fmt.Sprintf("/graph?g0.expr=%s&g0.tab=1", url.QueryEscape(e)) },
		"sortByLabel": func(label string, v queryResult) queryResult {
			sort.SliceStable(v, func(i, j int) bool { return v[i].Labels[label] < v[j].Labels[label] })
			return v
		},
		"stripPort": func(hostPort string) string {
			host, _, err := net.SplitHostPort(hostPort)
			if err != nil {
				return hostPort
			}
			return host
		},
		"stripDomain": func(hostPort string) string {
			host, port, err := net.SplitHostPort(hostPort)
			if err != nil {
				host = hostPort
			}
			if net.ParseIP(host) != nil {
				return hostPort
			}
			host = strings.Split(host, ".")[0]
			if port != "" {
				return net.JoinHostPort(host, port)
			}
			return host
		},
		"humanize": func(i interface{}) (string, error) {
			v, err := convertToFloat(i)
			if err != nil {
				return "", err
			}
			if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Sprintf("%.4g", v), nil
			}
			return humanizeScaled(v), nil
		},
		"humanize1024": func(i interface{}) (string, error) {
			v, err := convertToFloat(i)
			if err != nil {
				return "", err
			}
			if math.Abs(v) <= 1 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Sprintf("%.4g", v), nil
			}
			prefix := ""
			for _, p := range []string{"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"} {
				if math.Abs(v) < 1024 {
					break
				}
				prefix = p
				v /= 1024
			}
			return fmt.Sprintf("%.4g%s", v, prefix), nil
		},
		"humanizeDuration": func(i interface{}) (string, error) {
			v, err := convertToFloat(i)
			if err != nil {
				return "", err
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Sprintf("%.4g", v), nil
			}
			if v == 0 {
				return fmt.Sprintf("%.4gs", v), nil
			}
			if math.Abs(v) >= 1 {
				sign := ""
				if v < 0 {
					sign = "-"
					v = -v
				}
				seconds := int64(v) % 60
				minutes := (int64(v) / 60) % 60
				hours := (int64(v) / 60 / 60) % 24
				days := int64(v) / 60 / 60 / 24
				if days != 0 {
					return fmt.Sprintf("%s%dd %dh %dm %ds", sign, days, hours, minutes, seconds), nil
				}
				if hours != 0 {
					return fmt.Sprintf("%s%dh %dm %ds", sign, hours, minutes, seconds), nil
				}
				if minutes != 0 {
					return fmt.Sprintf("%s%dm %ds", sign, minutes, seconds), nil
				}
				return fmt.Sprintf("%s%.4gs", sign, v), nil
			}
			prefix := ""
			for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
				if math.Abs(v) >= 1 {
					break
				}
				prefix = p
				v *= 1000
			}
			return fmt.Sprintf("%.4g%ss", v, prefix), nil
		},
		"humanizePercentage": func(i interface{}) (string, error) {
			v, err := convertToFloat(i)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%.4g%%", v*100), nil
		},
		"humanizeTimestamp": func(i interface{}) (string, error) {
			v, err := convertToFloat(i)
			if err != nil {
				return "", err
			}
			tm, err := floatToTime(v)
			switch {
			case errors.Is(err, errNaNOrInf):
				return fmt.Sprintf("%.4g", v), nil
			case err != nil:
				return "", err
			}
			return fmt.Sprint(tm), nil
		},
		"toTime": func(i interface{}) (*time.Time, error) {
			v, err := convertToFloat(i)
			if err != nil {
				return nil, err
			}
			return floatToTime(v)
		},
		"pathPrefix":  func() string { return u.Path },
		"externalURL": func() string { return u.String() },
		"parseDuration": func(d string) (float64, error) {
			v, err := parseModelDuration(d)
			if err != nil {
				return 0, err
			}
			return float64(v) / float64(time.Second), nil
		},
	}
}

// ---------------------------------------------------------------- Alertmanager 0.25

type Pair struct{ Name, Value string }
type Pairs []Pair

func (ps Pairs) Names() []string {
	ns := make([]string, 0, len(ps))
	for _, p := range ps {
		ns = append(ns, p.Name)
	}
	return ns
}

func (ps Pairs) Values() []string {
	vs := make([]string, 0, len(ps))
	for _, p := range ps {
		vs = append(vs, p.Value)
	}
	return vs
}

type KV map[string]string

func (kv KV) SortedPairs() Pairs {
	var (
		pairs     = make([]Pair, 0, len(kv))
		keys      = make([]string, 0, len(kv))
		sortStart = 0
	)
	for k := range kv {
		if k == "alertname" {
			keys = append([]string{k}, keys...)
			sortStart = 1
		} else {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys[sortStart:])
	for _, k := range keys {
		pairs = append(pairs, Pair{k, kv[k]})
	}
	return pairs
}

func (kv KV) Remove(keys []string) KV {
	keySet := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		keySet[k] = struct{}{}
	}
	res := KV{}
	for k, v := range kv {
		if _, ok := keySet[k]; !ok {
			res[k] = v
		}
	}
	return res
}

func (kv KV) Names() []string  { return kv.SortedPairs().Names() }
func (kv KV) Values() []string { return kv.SortedPairs().Values() }

type Data struct {
	Receiver          string
	Status            string
	Alerts            Alerts
	GroupLabels       KV
	CommonLabels      KV
	CommonAnnotations KV
	ExternalURL       string
}

type Alert struct {
	Status       string
	Labels       KV
	Annotations  KV
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Fingerprint  string
}

type Alerts []Alert

func (as Alerts) Firing() []Alert {
	res := []Alert{}
	for _, a := range as {
		if a.Status == "firing" {
			res = append(res, a)
		}
	}
	return res
}

func (as Alerts) Resolved() []Alert {
	res := []Alert{}
	for _, a := range as {
		if a.Status == "resolved" {
			res = append(res, a)
		}
	}
	return res
}

type amAlertIn struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     float64           `json:"starts_at"`
	EndsAt       float64           `json:"ends_at"`
	GeneratorURL string            `json:"generator_url"`
}

type amDataIn struct {
	Receiver    string            `json:"receiver"`
	GroupLabels map[string]string `json:"group_labels"`
	Alerts      []amAlertIn       `json:"alerts"`
	ExternalURL string            `json:"external_url"`
	Now         float64           `json:"now"`
}

func unixTime(v float64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	micros := int64(math.Round(v * 1e6))
	return time.Unix(micros/1e6, (micros%1e6)*1000).UTC()
}

func fingerprint(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for k := range ls {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New64a()
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(ls[k]))
		h.Write([]byte{0xff})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func common(sets []map[string]string) KV {
	res := KV{}
	if len(sets) == 0 {
		return res
	}
	for k, v := range sets[0] {
		res[k] = v
	}
	for _, s := range sets[1:] {
		for k, v := range res {
			if s[k] != v {
				delete(res, k)
			}
		}
	}
	return res
}

// AMData builds Alertmanager's template data from the case input.
func AMData(raw json.RawMessage) *Data {
	var in amDataIn
	if err := json.Unmarshal(raw, &in); err != nil {
		panic(err)
	}
	d := &Data{Receiver: regexp.QuoteMeta(in.Receiver), GroupLabels: KV(in.GroupLabels), ExternalURL: in.ExternalURL}
	if d.GroupLabels == nil {
		d.GroupLabels = KV{}
	}
	allResolved := len(in.Alerts) > 0
	var labelSets, annSets []map[string]string
	for _, a := range in.Alerts {
		status := "firing"
		if a.EndsAt > 0 && a.EndsAt <= in.Now {
			status = "resolved"
		} else {
			allResolved = false
		}
		d.Alerts = append(d.Alerts, Alert{status, KV(a.Labels), KV(a.Annotations), unixTime(a.StartsAt), unixTime(a.EndsAt), a.GeneratorURL, fingerprint(a.Labels)})
		labelSets = append(labelSets, a.Labels)
		annSets = append(annSets, a.Annotations)
	}
	d.Status = "firing"
	if allResolved {
		d.Status = "resolved"
	}
	d.CommonLabels = common(labelSets)
	d.CommonAnnotations = common(annSets)
	return d
}

// AMFuncs are Alertmanager 0.25's template functions.
var AMFuncs = template.FuncMap{
	"toUpper":  strings.ToUpper,
	"toLower":  strings.ToLower,
	"title":    titleApprox,
	"join":     func(sep string, s []string) string { return strings.Join(s, sep) },
	"match":    regexp.MatchString,
	"safeHtml": func(text string) string { return text },
	"reReplaceAll": func(pattern, repl, text string) string {
		return regexp.MustCompile(pattern).ReplaceAllString(text, repl)
	},
	"stringSlice": func(s ...string) []string { return s },
}

// titleApprox stands in for golang.org/x/text/cases.Title, which the standard library lacks;
// cases using `title` are recorded from amtool instead.
func titleApprox(s string) string {
	var b strings.Builder
	inWord := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if !inWord {
				b.WriteRune(unicode.ToTitle(r))
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			inWord = true
		} else {
			b.WriteRune(r)
			inWord = false
		}
	}
	return b.String()
}
