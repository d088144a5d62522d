// Package apirecord writes down the exported API of a package, one
// identifier a line, in the manner of the Go project's api/go1.*.txt files,
// so that a checked-in record can be compared with the code and every API
// change is a reviewed diff. It reads source only (go/ast), so it can record
// any package of the repository whatever module it is in and whatever it
// imports.
//
// A line is "pkg NAME, KIND DECLARATION": for example
//
//	pkg oauth2, func NewIssuer(IssuerConfig) (*Issuer, error)
//	pkg oauth2, method (*Issuer) Handler() http.Handler
//	pkg oauth2, type IssuerConfig struct, Audience []string
//
// Parameter names, comments and unexported declarations are left out.
package apirecord

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Package is the exported API of one package.
type Package struct {
	Name string
	// Lines is the record, sorted.
	Lines []string
	// Undocumented names the exported identifiers without a doc comment.
	Undocumented []string
}

// Read records the package in dir, ignoring test files.
func Read(dir string) (*Package, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		// Files for other platforms, or excluded by a build tag, are not
		// part of what the default build exports.
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("apirecord: no Go files in %s", dir)
	}
	r := &recorder{fset: fset, pkg: &Package{Name: files[0].Name.Name}, hidden: map[string][]string{}, valueTypes: map[string]bool{}}
	for _, f := range files {
		for _, d := range f.Decls {
			r.decl(d)
		}
	}
	// An exported constant or variable of an unexported type still brings
	// that type's methods to its users (errors.Is relies on an Is method):
	// they are part of the API too.
	for typ := range r.valueTypes {
		r.pkg.Lines = append(r.pkg.Lines, r.hidden[typ]...)
	}
	slices.Sort(r.pkg.Lines)
	r.pkg.Lines = slices.Compact(r.pkg.Lines)
	slices.Sort(r.pkg.Undocumented)
	return r.pkg, nil
}

type recorder struct {
	fset *token.FileSet
	pkg  *Package
	// hidden holds the method lines of unexported types, by type name, and
	// valueTypes the unexported types of exported constants and variables.
	hidden     map[string][]string
	valueTypes map[string]bool
}

func (r *recorder) add(format string, args ...any) {
	r.pkg.Lines = append(r.pkg.Lines, fmt.Sprintf("pkg %s, ", r.pkg.Name)+fmt.Sprintf(format, args...))
}

func (r *recorder) undocumented(what string) {
	r.pkg.Undocumented = append(r.pkg.Undocumented, what)
}

// expr prints an expression on one line, function types without their
// parameter names.
func (r *recorder) expr(e ast.Expr) string {
	e = withoutNames(e)
	var b bytes.Buffer
	_ = printer.Fprint(&b, r.fset, e)
	return strings.Join(strings.Fields(b.String()), " ")
}

// withoutNames returns e with the parameter names of the function types in
// it removed (a copy where one is needed; e itself is left alone).
func withoutNames(e ast.Expr) ast.Expr {
	switch t := e.(type) {
	case *ast.FuncType:
		return &ast.FuncType{Func: t.Func, TypeParams: t.TypeParams, Params: unnamed(t.Params), Results: unnamed(t.Results)}
	case *ast.StarExpr:
		return &ast.StarExpr{Star: t.Star, X: withoutNames(t.X)}
	case *ast.ArrayType:
		return &ast.ArrayType{Lbrack: t.Lbrack, Len: t.Len, Elt: withoutNames(t.Elt)}
	case *ast.MapType:
		return &ast.MapType{Map: t.Map, Key: withoutNames(t.Key), Value: withoutNames(t.Value)}
	case *ast.ChanType:
		return &ast.ChanType{Begin: t.Begin, Arrow: t.Arrow, Dir: t.Dir, Value: withoutNames(t.Value)}
	default:
		return e
	}
}

// unnamed is a field list with the names dropped, one field per name.
func unnamed(l *ast.FieldList) *ast.FieldList {
	if l == nil {
		return nil
	}
	out := &ast.FieldList{Opening: l.Opening, Closing: l.Closing}
	for _, f := range l.List {
		for range max(1, len(f.Names)) {
			out.List = append(out.List, &ast.Field{Type: withoutNames(f.Type)})
		}
	}
	return out
}

// typeParams prints a type parameter list, or nothing.
func (r *recorder) typeParams(l *ast.FieldList) string {
	if l == nil || len(l.List) == 0 {
		return ""
	}
	var ps []string
	for _, f := range l.List {
		names := make([]string, len(f.Names))
		for i, n := range f.Names {
			names[i] = n.Name
		}
		ps = append(ps, strings.Join(names, ", ")+" "+r.expr(f.Type))
	}
	return "[" + strings.Join(ps, ", ") + "]"
}

func (r *recorder) decl(d ast.Decl) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		r.funcDecl(d)
	case *ast.GenDecl:
		var last *ast.ValueSpec // a constant without type or value repeats it
		for i, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					r.typeSpec(s, s.Doc != nil || d.Doc != nil)
				}
			case *ast.ValueSpec:
				spec := *s
				if d.Tok == token.CONST && s.Type == nil && s.Values == nil && last != nil {
					spec.Type, spec.Values = last.Type, last.Values
				} else {
					last = s
				}
				r.valueSpec(d.Tok, &spec, i, s.Doc != nil || s.Comment != nil || d.Doc != nil)
			}
		}
	}
}

func (r *recorder) funcDecl(d *ast.FuncDecl) {
	if !d.Name.IsExported() {
		return
	}
	sig := r.signature(d.Type)
	if d.Recv == nil {
		r.add("func %s%s%s", d.Name.Name, r.typeParams(d.Type.TypeParams), sig)
		if d.Doc == nil {
			r.undocumented(d.Name.Name)
		}
		return
	}
	recv := r.expr(d.Recv.List[0].Type)
	base := strings.TrimPrefix(recv, "*")
	if i := strings.IndexByte(base, '['); i >= 0 {
		base = base[:i]
	}
	if !ast.IsExported(base) {
		r.hidden[base] = append(r.hidden[base], fmt.Sprintf("pkg %s, method (%s) %s%s", r.pkg.Name, recv, d.Name.Name, sig))
		return
	}
	r.add("method (%s) %s%s", recv, d.Name.Name, sig)
	if d.Doc == nil {
		r.undocumented(base + "." + d.Name.Name)
	}
}

// signature prints a function type without parameter names.
func (r *recorder) signature(t *ast.FuncType) string {
	params := r.fields(t.Params)
	results := r.fields(t.Results)
	switch {
	case len(results) == 0:
		return "(" + strings.Join(params, ", ") + ")"
	case len(results) == 1: // named or not: names are no part of the API
		return "(" + strings.Join(params, ", ") + ") " + results[0]
	default:
		return "(" + strings.Join(params, ", ") + ") (" + strings.Join(results, ", ") + ")"
	}
}

// fields lists the types of a parameter list, once per name.
func (r *recorder) fields(l *ast.FieldList) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, f := range l.List {
		t := r.expr(f.Type)
		for range max(1, len(f.Names)) {
			out = append(out, t)
		}
	}
	return out
}

func (r *recorder) typeSpec(s *ast.TypeSpec, documented bool) {
	name := s.Name.Name + r.typeParams(s.TypeParams)
	if !documented {
		r.undocumented(s.Name.Name)
	}
	if s.Assign.IsValid() {
		r.add("type %s = %s", name, r.expr(s.Type))
		return
	}
	switch t := s.Type.(type) {
	case *ast.StructType:
		r.add("type %s struct", name)
		for _, f := range t.Fields.List {
			typ := r.expr(f.Type)
			if len(f.Names) == 0 { // embedded
				if ast.IsExported(strings.TrimPrefix(typ[strings.LastIndexByte(typ, '.')+1:], "*")) {
					r.add("type %s struct, embedded %s", name, typ)
				}
				continue
			}
			for _, n := range f.Names {
				if n.IsExported() {
					r.add("type %s struct, %s %s", name, n.Name, typ)
					if f.Doc == nil && f.Comment == nil {
						r.undocumented(s.Name.Name + "." + n.Name)
					}
				}
			}
		}
	case *ast.InterfaceType:
		r.add("type %s interface", name)
		for _, m := range t.Methods.List {
			if len(m.Names) == 0 {
				r.add("type %s interface, embedded %s", name, r.expr(m.Type))
				continue
			}
			for _, n := range m.Names {
				if !n.IsExported() {
					r.add("type %s interface, unexported methods", name)
					continue
				}
				r.add("type %s interface, %s%s", name, n.Name, r.signature(m.Type.(*ast.FuncType)))
				// The type's doc speaks for the method of a one-method
				// interface, as io.Reader's does for Read.
				if m.Doc == nil && m.Comment == nil && len(t.Methods.List) > 1 {
					r.undocumented(s.Name.Name + "." + n.Name)
				}
			}
		}
	default:
		r.add("type %s %s", name, r.expr(s.Type))
	}
}

// valueSpec records the names of a const or var spec, the index-th of its
// declaration (what iota is for it).
func (r *recorder) valueSpec(tok token.Token, s *ast.ValueSpec, index int, documented bool) {
	kind := "var"
	if tok == token.CONST {
		kind = "const"
	}
	for i, n := range s.Names {
		if !n.IsExported() {
			continue
		}
		if !documented {
			r.undocumented(n.Name)
		}
		line := kind + " " + n.Name
		if s.Type != nil {
			line += " " + r.expr(s.Type)
			if id, ok := s.Type.(*ast.Ident); ok && !id.IsExported() {
				r.valueTypes[id.Name] = true
			}
		}
		// A constant's value is part of its promise; a variable's initial
		// value is not, but its declared or implied type is.
		switch {
		case tok == token.CONST && i < len(s.Values):
			v := r.expr(s.Values[i])
			if strings.Contains(v, "iota") {
				v = fmt.Sprintf("%s (iota = %d)", v, index)
			}
			line += " = " + v
		case tok == token.VAR && s.Type == nil && i < len(s.Values):
			line += " = " + r.expr(s.Values[i])
		}
		r.add("%s", line)
	}
}
