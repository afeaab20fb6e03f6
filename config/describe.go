package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// OptionDoc describes one option of a config struct, read from the code.
type OptionDoc struct {
	Name     string
	Type     string
	Default  string
	Doc      string
	Required bool
	Secret   bool
	Enum     []string
	Min, Max string
}

// Describe lists the options of a config struct value (its current field
// values are shown as defaults). Nested structs and list elements are
// flattened as `parent.child` and `list[].child`.
func Describe(cfg any) []OptionDoc {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.New(v.Type().Elem())
		}
		v = v.Elem()
	}
	var out []OptionDoc
	describeStruct(v, "", &out)
	return out
}

func describeStruct(v reflect.Value, prefix string, out *[]OptionDoc) {
	names, idx := optionFields(v.Type())
	for _, name := range names {
		f := v.Type().FieldByIndex(idx[name])
		fv := v.FieldByIndex(idx[name])
		full := join(prefix, name)
		doc := OptionDoc{
			Name:     full,
			Type:     typeName(f.Type),
			Doc:      f.Tag.Get("doc"),
			Required: f.Tag.Get("required") == "true",
			Secret:   f.Tag.Get("secret") == "true",
			Min:      f.Tag.Get("min"),
			Max:      f.Tag.Get("max"),
		}
		if e := f.Tag.Get("enum"); e != "" {
			doc.Enum = strings.Split(e, ",")
		}
		doc.Default = defaultString(fv)
		if doc.Secret && doc.Default != "" {
			doc.Default = Redacted
		}
		*out = append(*out, doc)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
			if fv.IsNil() {
				fv = reflect.New(ft)
			}
			fv = reflect.Indirect(fv)
		}
		if implementsCustom(ft) {
			continue
		}
		switch ft.Kind() {
		case reflect.Struct:
			describeStruct(fv, full, out)
		case reflect.Slice:
			if et := ft.Elem(); et.Kind() == reflect.Struct && !implementsCustom(et) {
				describeStruct(reflect.New(et).Elem(), full+"[]", out)
			}
		}
	}
}

func implementsCustom(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(nodeDecoder) || (pt.Implements(textUnmarsh) && t != durationType)
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	if implementsCustom(t) || t.Kind() == reflect.Pointer && implementsCustom(t.Elem()) {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if strings.Contains(strings.ToLower(t.Name()), "expr") {
			return "expression"
		}
		return strings.ToLower(t.Name())
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Struct:
		return "object"
	case reflect.Interface:
		return "any"
	}
	return t.String()
}

func defaultString(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	if v.Type() == durationType {
		d := time.Duration(v.Int())
		if d == 0 {
			return "0s"
		}
		return d.String()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok && v.Kind() != reflect.Pointer {
		return s.String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return defaultString(v.Elem())
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return fmt.Sprint(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprint(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return fmt.Sprint(v.Float())
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
			parts := make([]string, v.Len())
			for i := range parts {
				parts[i] = v.Index(i).String()
			}
			return "[" + strings.Join(parts, ", ") + "]"
		}
		return fmt.Sprint(v.Interface())
	case reflect.Struct:
		return ""
	}
	return fmt.Sprint(v.Interface())
}
