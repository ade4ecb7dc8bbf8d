// Command render is the test oracle for alerting/template: it renders template cases with Go's own
// text/template (Go 1.19, standard library only) and prints the outputs as JSON.
//
// Input (stdin): a JSON list of cases {id, kind, template, data, queries}. kind is "text" (plain
// text/template over typed data), "prom" (Prometheus 2.42 rule templates: its prefix, data and
// functions, re-implemented here from its source) or "am" (Alertmanager 0.25 notification data and
// functions over default.tmpl and email.tmpl). Output (stdout): {id: {"output": ..., "error": ...}}.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	peers "oracle/template"
	"os"
	"strconv"
	"text/template"
)

type caseIn struct {
	ID       string                      `json:"id"`
	Name     string                      `json:"name"`
	Kind     string                      `json:"kind"`
	Template string                      `json:"template"`
	Data     json.RawMessage             `json:"data"`
	Queries  map[string][]peers.SampleIn `json:"queries"`
	Files    []string                    `json:"files"`
}

type result struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

// ---------------------------------------------------------------- typed JSON values

func decodeTyped(raw interface{}) interface{} {
	if raw == nil {
		return nil
	}
	m := raw.(map[string]interface{})
	for k, v := range m {
		switch k {
		case "s":
			return v.(string)
		case "f":
			return v.(float64)
		case "i":
			return int(v.(float64))
		case "b":
			return v.(bool)
		case "ss":
			out := []string{}
			for _, x := range v.([]interface{}) {
				out = append(out, x.(string))
			}
			return out
		case "ms":
			out := map[string]string{}
			for kk, x := range v.(map[string]interface{}) {
				out[kk] = x.(string)
			}
			return out
		case "m":
			out := map[string]interface{}{}
			for kk, x := range v.(map[string]interface{}) {
				out[kk] = decodeTyped(x)
			}
			return out
		case "l":
			out := []interface{}{}
			for _, x := range v.([]interface{}) {
				out = append(out, decodeTyped(x))
			}
			return out
		}
	}
	panic("bad typed value")
}

type promData struct {
	Labels         map[string]string `json:"labels"`
	ExternalLabels map[string]string `json:"external_labels"`
	ExternalURL    string            `json:"external_url"`
	Value          float64           `json:"-"`
	RawValue       string            `json:"value"`
	EvalTime       float64           `json:"eval_time"`
}

// promDefs is what Prometheus prepends to every alert template.
const promDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

func renderProm(c caseIn) (string, error) {
	var d promData
	if err := json.Unmarshal(c.Data, &d); err != nil {
		panic(err)
	}
	v, err := strconv.ParseFloat(d.RawValue, 64)
	if err != nil {
		panic(err)
	}
	data := struct {
		Labels         map[string]string
		ExternalLabels map[string]string
		ExternalURL    string
		Value          float64
	}{d.Labels, d.ExternalLabels, d.ExternalURL, v}
	name := c.Name
	tmpl, err := template.New(name).Funcs(peers.PromFuncs(d.EvalTime, c.Queries, d.ExternalURL)).Option("missingkey=zero").Parse(promDefs + c.Template)
	if err != nil {
		return "", fmt.Errorf("error parsing template %v: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("error executing template %v: %w", name, err)
	}
	return buf.String(), nil
}

func renderAM(c caseIn, base *template.Template) (string, error) {
	if c.Template == "" {
		return "", nil
	}
	tmpl, err := base.Clone()
	if err != nil {
		return "", err
	}
	for _, f := range c.Files {
		if tmpl, err = tmpl.ParseFiles(f); err != nil {
			return "", err
		}
	}
	tmpl, err = tmpl.New("").Option("missingkey=zero").Parse(c.Template)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, peers.AMData(c.Data))
	return buf.String(), err
}

// ---------------------------------------------------------------- plain text/template

func renderText(c caseIn) (string, error) {
	var raw interface{}
	if err := json.Unmarshal(c.Data, &raw); err != nil {
		panic(err)
	}
	tmpl, err := template.New("t").Option("missingkey=zero").Parse(c.Template)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, decodeTyped(raw))
	return buf.String(), err
}

func main() {
	var cases []caseIn
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	base := template.Must(template.New("").Option("missingkey=zero").Funcs(peers.AMFuncs).ParseFiles(os.Args[1:]...))
	out := map[string]result{}
	for _, c := range cases {
		var s string
		var err error
		switch c.Kind {
		case "text":
			s, err = renderText(c)
		case "prom":
			// Prometheus shows a failed expansion as the text itself.
			s, err = renderProm(c)
			if err != nil {
				s, err = fmt.Sprintf("<error expanding template: %s>", err), nil
			}
		case "am":
			s, err = renderAM(c, base)
		default:
			panic("unknown kind " + c.Kind)
		}
		if err != nil {
			e := err.Error()
			out[c.ID] = result{Error: &e}
		} else {
			out[c.ID] = result{Output: &s}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
