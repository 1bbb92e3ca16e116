//! Why a PQL query does not parse, in PuppetDB's words.
//!
//! PuppetDB parses PQL with Instaparse (a GLL parser over its public EBNF grammar,
//! `pql-grammar.ebnf`) and, when the query does not parse, reports the furthest position
//! any terminal of the grammar failed at and every terminal that failed there, in the
//! order the parser tried them. That order follows from how a GLL trampoline schedules
//! its work (a stack of pending parses, results shared between the rules that wait for
//! them), so the only way to give the same list is to explore the grammar the same way.
//! This module does that: the grammar (transcribed from the EBNF into combinators) and a
//! small GLL recognizer that records failures as Instaparse does. It is used only once
//! the hand-written parser in [`super::pql`] has refused a query; the AST always comes
//! from that parser.
//!
//! The exploration is bounded ([`MAX_STEPS`]); beyond it (hostile input) the caller keeps
//! its own message.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Most scheduled steps of one explanation: a query of 400 characters takes about 5,500,
/// PuppetDB's test queries at most 1,100; an explanation stops here (a few milliseconds)
/// rather than follow a hostile query's ambiguities (thousands of `and`s) for seconds.
const MAX_STEPS: usize = 50_000;

/// A quick hasher for the trampoline's small integer keys (the standard one is made to
/// resist hostile keys; these keys are positions and parser numbers, bounded by the steps).
#[derive(Default)]
struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// A parser of the grammar, by its index in [`Grammar::parsers`].
type Id = usize;

/// The regular-expression terminals of the grammar (Java regexes; matched by hand here,
/// as `lookingAt` would, on UTF-16 units).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Re {
    Whitespace,
    Field,
    QuotedField,
    MatchField,
    StandardField,
    DqBody,
    SqBody,
    Digits,
}

impl Re {
    fn source(self) -> &'static str {
        match self {
            Re::Whitespace => r"\s+",
            Re::Field => r"[a-zA-Z0-9_]+\??",
            Re::QuotedField => r#"\".*?\"(?=\.|\s)"#,
            Re::MatchField => r"match\(.*?\)",
            Re::StandardField => r#"[^\s\.\",\[\]!<=>~]+(\[\d+\])?"#,
            Re::DqBody => r#"(?:[^"\\]|\\.)*"#,
            Re::SqBody => r"(?:[^\'\\]|\\.)*",
            Re::Digits => "[0-9]+",
        }
    }

    /// The length of the match at the start of `t`, if any.
    fn match_at(self, t: &[u16]) -> Option<usize> {
        let is_ws = |c: u16| matches!(c, 0x20 | 0x09 | 0x0a | 0x0b | 0x0c | 0x0d);
        let is_line_end = |c: u16| matches!(c, 0x0a | 0x0d | 0x85 | 0x2028 | 0x2029);
        let is_digit = |c: u16| (u16::from(b'0')..=u16::from(b'9')).contains(&c);
        let ch = |c: char| c as u16;
        match self {
            Re::Whitespace => {
                let n = t.iter().take_while(|c| is_ws(**c)).count();
                (n > 0).then_some(n)
            }
            Re::Digits => {
                let n = t.iter().take_while(|c| is_digit(**c)).count();
                (n > 0).then_some(n)
            }
            Re::Field => {
                let n = t
                    .iter()
                    .take_while(|c| {
                        char::from_u32(u32::from(**c))
                            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                    .count();
                if n == 0 {
                    return None;
                }
                Some(if t.get(n) == Some(&ch('?')) { n + 1 } else { n })
            }
            Re::QuotedField => {
                if t.first() != Some(&ch('"')) {
                    return None;
                }
                let mut j = 1;
                while j < t.len() {
                    if t[j] == ch('"') && t.get(j + 1).is_some_and(|n| *n == ch('.') || is_ws(*n)) {
                        return Some(j + 1);
                    }
                    if is_line_end(t[j]) {
                        return None;
                    }
                    j += 1;
                }
                None
            }
            Re::MatchField => {
                let head: Vec<u16> = "match(".encode_utf16().collect();
                if !t.starts_with(&head) {
                    return None;
                }
                let mut j = head.len();
                while j < t.len() {
                    if t[j] == ch(')') {
                        return Some(j + 1);
                    }
                    if is_line_end(t[j]) {
                        return None;
                    }
                    j += 1;
                }
                None
            }
            Re::StandardField => {
                let n = t
                    .iter()
                    .take_while(|c| !is_ws(**c) && !".\",[]!<=>~".encode_utf16().any(|x| x == **c))
                    .count();
                if n == 0 {
                    return None;
                }
                // `(\[\d+\])?`
                if t.get(n) == Some(&ch('[')) {
                    let d = t[n + 1..].iter().take_while(|c| is_digit(**c)).count();
                    if d > 0 && t.get(n + 1 + d) == Some(&ch(']')) {
                        return Some(n + d + 2);
                    }
                }
                Some(n)
            }
            Re::DqBody | Re::SqBody => {
                let quote = if self == Re::DqBody {
                    ch('"')
                } else {
                    ch('\'')
                };
                let mut j = 0;
                while j < t.len() {
                    if t[j] == ch('\\') {
                        match t.get(j + 1) {
                            Some(n) if !is_line_end(*n) => j += 2,
                            _ => break,
                        }
                    } else if t[j] == quote {
                        break;
                    } else {
                        j += 1;
                    }
                }
                Some(j)
            }
        }
    }
}

/// A combinator. Two parsers that Instaparse would hold as equal values (same shape, same
/// hidden flag, same reduction) are the same [`Id`]: Instaparse shares their results.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Nt(&'static str),
    Alt(Vec<Id>),
    Cat(Vec<Id>),
    Str(&'static str),
    Re(Re),
    Opt(Id),
    Star(Id),
    Plus(Id),
    Neg(Id),
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Parser {
    kind: Kind,
    hide: bool,
    /// The reduction of a rule's body: its name, or `""` for a rule whose tag is hidden.
    red: Option<&'static str>,
}

struct Grammar {
    parsers: Vec<Parser>,
    interned: HashMap<Parser, Id>,
    rules: HashMap<&'static str, Id>,
}

impl Grammar {
    fn intern(&mut self, p: Parser) -> Id {
        if let Some(id) = self.interned.get(&p) {
            return *id;
        }
        self.parsers.push(p.clone());
        self.interned.insert(p, self.parsers.len() - 1);
        self.parsers.len() - 1
    }
    fn mk(&mut self, kind: Kind) -> Id {
        self.intern(Parser {
            kind,
            hide: false,
            red: None,
        })
    }
    fn hide(&mut self, id: Id) -> Id {
        let mut p = self.parsers[id].clone();
        p.hide = true;
        self.intern(p)
    }
    fn nt(&mut self, name: &'static str) -> Id {
        self.mk(Kind::Nt(name))
    }
    /// `<name>`.
    fn hnt(&mut self, name: &'static str) -> Id {
        let n = self.nt(name);
        self.hide(n)
    }
    fn s(&mut self, s: &'static str) -> Id {
        self.mk(Kind::Str(s))
    }
    fn re(&mut self, r: Re) -> Id {
        self.mk(Kind::Re(r))
    }
    fn cat(&mut self, ps: &[Id]) -> Id {
        if ps.len() == 1 {
            return ps[0];
        }
        self.mk(Kind::Cat(ps.to_vec()))
    }
    fn alt(&mut self, ps: &[Id]) -> Id {
        if ps.len() == 1 {
            return ps[0];
        }
        self.mk(Kind::Alt(ps.to_vec()))
    }
    fn opt(&mut self, p: Id) -> Id {
        self.mk(Kind::Opt(p))
    }
    fn star(&mut self, p: Id) -> Id {
        self.mk(Kind::Star(p))
    }
    fn plus(&mut self, p: Id) -> Id {
        self.mk(Kind::Plus(p))
    }
    fn neg(&mut self, p: Id) -> Id {
        self.mk(Kind::Neg(p))
    }
    /// `[<whitespace>]`.
    fn ows(&mut self) -> Id {
        let w = self.hnt("whitespace");
        self.opt(w)
    }
    /// A rule: `name = body` (`hidden_tag`: `<name> = body`).
    fn rule(&mut self, name: &'static str, hidden_tag: bool, body: Id) {
        let mut p = self.parsers[body].clone();
        p.red = Some(if hidden_tag { "" } else { name });
        let id = self.intern(p);
        self.rules.insert(name, id);
    }

    /// PuppetDB 7.12's `pql-grammar.ebnf`, rule for rule.
    fn pql() -> Grammar {
        let mut g = Grammar {
            parsers: Vec::new(),
            interned: HashMap::new(),
            rules: HashMap::new(),
        };
        // <query> = [<whitespace>], from, [<whitespace>];
        let (ows, from) = (g.ows(), g.nt("from"));
        let b = g.cat(&[ows, from, ows]);
        g.rule("query", true, b);
        // from = entity, [[<whitespace>], extract], [<whitespace>], where;
        let (entity, extract, where_) = (g.nt("entity"), g.nt("extract"), g.nt("where"));
        let c = g.cat(&[ows, extract]);
        let oc = g.opt(c);
        let b = g.cat(&[entity, oc, ows, where_]);
        g.rule("from", false, b);
        // extract = <lbracket>, [<whitespace>], [extractfields], [<whitespace>], <rbracket>;
        let (lb, rb, ef) = (g.hnt("lbracket"), g.hnt("rbracket"), g.nt("extractfields"));
        let oef = g.opt(ef);
        let b = g.cat(&[lb, ows, oef, ows, rb]);
        g.rule("extract", false, b);
        // <extractfields> = fieldlist;
        let b = g.nt("fieldlist");
        g.rule("extractfields", true, b);
        // <where> = <lbrace>, [<whitespace>], [expression], [<whitespace>],
        //   [groupbyclause | {pagingclause, [<whitespace>]}], {<whitespace>}, <rbrace>;
        let (lbr, rbr, expr) = (g.hnt("lbrace"), g.hnt("rbrace"), g.nt("expression"));
        let (gbc, pc) = (g.nt("groupbyclause"), g.nt("pagingclause"));
        let oexpr = g.opt(expr);
        let pcw = g.cat(&[pc, ows]);
        let spc = g.star(pcw);
        let a = g.alt(&[gbc, spc]);
        let oa = g.opt(a);
        let hws = g.hnt("whitespace");
        let sws = g.star(hws);
        let b = g.cat(&[lbr, ows, oexpr, ows, oa, sws, rbr]);
        g.rule("where", true, b);
        // <entity> = 'facts' | ... | 'events';
        // (the grammar's entities, in its order: PQL's own list after the catalog inputs)
        let names = &super::pql::ENTITIES[2..];
        let ids: Vec<Id> = names.iter().map(|n| g.s(n)).collect();
        let b = g.alt(&ids);
        g.rule("entity", true, b);
        // <expression> = expr-or;
        let b = g.nt("expr-or");
        g.rule("expression", true, b);
        // expr-or = expr-and { <whitespace>, or, <whitespace>, expr-or };
        let (ea, or, eo) = (g.nt("expr-and"), g.nt("or"), g.nt("expr-or"));
        let c = g.cat(&[hws, or, hws, eo]);
        let s = g.star(c);
        let b = g.cat(&[ea, s]);
        g.rule("expr-or", false, b);
        // expr-and = expr-not { <whitespace>, and, <whitespace>, expr-and };
        let (en, and) = (g.nt("expr-not"), g.nt("and"));
        let c = g.cat(&[hws, and, hws, ea]);
        let s = g.star(c);
        let b = g.cat(&[en, s]);
        g.rule("expr-and", false, b);
        // expr-not = ( not, [<whitespace>], expr-not ) | expr-rest;
        let (not, er) = (g.nt("not"), g.nt("expr-rest"));
        let c = g.cat(&[not, ows, en]);
        let b = g.alt(&[c, er]);
        g.rule("expr-not", false, b);
        // <expr-rest> = ( <lparens>, [<whitespace>], expression, [<whitespace>], <rparens> )
        //   | condexpression | condexpnull | subquery;
        let (lp, rp) = (g.hnt("lparens"), g.hnt("rparens"));
        let (ce, cn, sq) = (
            g.nt("condexpression"),
            g.nt("condexpnull"),
            g.nt("subquery"),
        );
        let c = g.cat(&[lp, ows, expr, ows, rp]);
        let b = g.alt(&[c, ce, cn, sq]);
        g.rule("expr-rest", true, b);
        // subquery = entity, [<whitespace>], where;
        let b = g.cat(&[entity, ows, where_]);
        g.rule("subquery", false, b);
        // condexpression = (condexpregexp | condexpregexparray | condexpinequality
        //   | condexpmatch | condexpnotmatch| condexpnotregexp | condexpin);
        let kinds = [
            "condexpregexp",
            "condexpregexparray",
            "condexpinequality",
            "condexpmatch",
            "condexpnotmatch",
            "condexpnotregexp",
            "condexpin",
        ];
        let ids: Vec<Id> = kinds.iter().map(|n| g.nt(n)).collect();
        let b = g.alt(&ids);
        g.rule("condexpression", false, b);
        let field = g.nt("field");
        for (name, op, value) in [
            ("condexpregexp", "condregexp", "valueregexp"),
            ("condexpregexparray", "condregexparray", "valueregexparray"),
            ("condexpinequality", "condinequality", "valueordered"),
            ("condexpmatch", "condmatch", "literal"),
            ("condexpnotmatch", "condnotmatch", "literal"),
            ("condexpnotregexp", "condnotregexp", "literal"),
        ] {
            let (o, v) = (g.nt(op), g.nt(value));
            let b = g.cat(&[field, ows, o, ows, v]);
            g.rule(name, true, b);
        }
        // <condexpin> = (field | groupedfieldlist), [<whitespace>], condin, [<whitespace>], valuein;
        let (gfl, ci, vi) = (g.nt("groupedfieldlist"), g.nt("condin"), g.nt("valuein"));
        let a = g.alt(&[field, gfl]);
        let b = g.cat(&[a, ows, ci, ows, vi]);
        g.rule("condexpin", true, b);
        // condexpnull = field, [<whitespace>], (condisnull | condisnotnull);
        let (cin, cinn) = (g.nt("condisnull"), g.nt("condisnotnull"));
        let a = g.alt(&[cin, cinn]);
        let b = g.cat(&[field, ows, a]);
        g.rule("condexpnull", false, b);
        // condisnull = <'is null'>; condisnotnull = <'is not null'>;
        let s = g.s("is null");
        let b = g.hide(s);
        g.rule("condisnull", false, b);
        let s = g.s("is not null");
        let b = g.hide(s);
        g.rule("condisnotnull", false, b);
        // groupedfieldlist = <lbracket>, [<whitespace>], fieldlist, [<whitespace>], <rbracket>;
        let fl = g.nt("fieldlist");
        let b = g.cat(&[lb, ows, fl, ows, rb]);
        g.rule("groupedfieldlist", false, b);
        // <fieldlist> = (field | function) {[<whitespace>] <','> [<whitespace>] (field | function)};
        let func = g.nt("function");
        let ff = g.alt(&[field, func]);
        let comma = g.s(",");
        let hcomma = g.hide(comma);
        let c = g.cat(&[ows, hcomma, ows, ff]);
        let s = g.star(c);
        let b = g.cat(&[ff, s]);
        g.rule("fieldlist", true, b);
        // function = functionname, [<whitespace>], groupedarglist;
        let (fnm, gal) = (g.nt("functionname"), g.nt("groupedarglist"));
        let b = g.cat(&[fnm, ows, gal]);
        g.rule("function", false, b);
        // <functionname> = 'count' | 'avg' | 'sum' | 'min' | 'max' | 'to_string';
        let ids: Vec<Id> = ["count", "avg", "sum", "min", "max", "to_string"]
            .iter()
            .map(|n| g.s(n))
            .collect();
        let b = g.alt(&ids);
        g.rule("functionname", true, b);
        // groupedarglist = <lparens>, [<whitespace>], [arglist], [<whitespace>], <rparens>;
        let al = g.nt("arglist");
        let oal = g.opt(al);
        let b = g.cat(&[lp, ows, oal, ows, rp]);
        g.rule("groupedarglist", false, b);
        // <arglist> = (field | string), [ [<whitespace>], <','>, [<whitespace>], stringlist ];
        let (string, sl) = (g.nt("string"), g.nt("stringlist"));
        let fs = g.alt(&[field, string]);
        let c = g.cat(&[ows, hcomma, ows, sl]);
        let oc = g.opt(c);
        let b = g.cat(&[fs, oc]);
        g.rule("arglist", true, b);
        // <stringlist> = string {[<whitespace>] <','> [<whitespace>] string};
        let c = g.cat(&[ows, hcomma, ows, string]);
        let s = g.star(c);
        let strings = g.cat(&[string, s]);
        g.rule("stringlist", true, strings);
        // field = #'[a-zA-Z0-9_]+\??' | (dottedfield, fieldpath);
        let (r, df, fp) = (g.re(Re::Field), g.nt("dottedfield"), g.nt("fieldpath"));
        let c = g.cat(&[df, fp]);
        let b = g.alt(&[r, c]);
        g.rule("field", false, b);
        // <fieldpath> = (<'.'> (quotedfield | standardfield | matchfield))+;
        let dot = g.s(".");
        let hdot = g.hide(dot);
        let (qf, sf, mf) = (
            g.nt("quotedfield"),
            g.nt("standardfield"),
            g.nt("matchfield"),
        );
        let a = g.alt(&[qf, sf, mf]);
        let c = g.cat(&[hdot, a]);
        let b = g.plus(c);
        g.rule("fieldpath", true, b);
        let b = g.re(Re::QuotedField);
        g.rule("quotedfield", true, b);
        let b = g.re(Re::MatchField);
        g.rule("matchfield", true, b);
        let b = g.re(Re::StandardField);
        g.rule("standardfield", true, b);
        let ids: Vec<Id> = ["facts", "trusted", "parameters"]
            .iter()
            .map(|n| g.s(n))
            .collect();
        let b = g.alt(&ids);
        g.rule("dottedfield", true, b);
        for (name, ops) in [
            ("condregexp", &["~"][..]),
            ("condregexparray", &["~>"][..]),
            ("condinequality", &[">=", "<=", "<", ">"][..]),
            ("condmatch", &["="][..]),
            ("condnotmatch", &["!="][..]),
            ("condnotregexp", &["!~"][..]),
            ("condin", &["in"][..]),
        ] {
            let ids: Vec<Id> = ops.iter().map(|n| g.s(n)).collect();
            let b = g.alt(&ids);
            g.rule(name, true, b);
        }
        // <valueregexp> = string; <valueregexparray> = groupedregexplist;
        // <valueordered> = integer | real | string; <valuein> = query | groupedliterallist;
        g.rule("valueregexp", true, string);
        let b = g.nt("groupedregexplist");
        g.rule("valueregexparray", true, b);
        let (int, real) = (g.nt("integer"), g.nt("real"));
        let b = g.alt(&[int, real, string]);
        g.rule("valueordered", true, b);
        let (q, gll) = (g.nt("query"), g.nt("groupedliterallist"));
        let b = g.alt(&[q, gll]);
        g.rule("valuein", true, b);
        // groupedregexplist = <lbracket>, [<whitespace>], regexplist, [<whitespace>], <rbracket>;
        let rl = g.nt("regexplist");
        let b = g.cat(&[lb, ows, rl, ows, rb]);
        g.rule("groupedregexplist", false, b);
        g.rule("regexplist", true, strings);
        // groupedliterallist = <lbracket>, [<whitespace>], literallist, [<whitespace>], <rbracket>;
        let ll = g.nt("literallist");
        let b = g.cat(&[lb, ows, ll, ows, rb]);
        g.rule("groupedliterallist", false, b);
        // <literallist> = literal {[<whitespace>] <','> [<whitespace>] literal};
        let lit = g.nt("literal");
        let c = g.cat(&[ows, hcomma, ows, lit]);
        let s = g.star(c);
        let b = g.cat(&[lit, s]);
        g.rule("literallist", true, b);
        // <and> = <'and'>; <or> = <'or'>; not = <'!'>;
        for (name, word, hidden) in [
            ("and", "and", true),
            ("or", "or", true),
            ("not", "!", false),
        ] {
            let s = g.s(word);
            let b = g.hide(s);
            g.rule(name, hidden, b);
        }
        // <string> = dqstring | sqstring;
        let (dq, sqs) = (g.nt("dqstring"), g.nt("sqstring"));
        let b = g.alt(&[dq, sqs]);
        g.rule("string", true, b);
        // dqstring = (<doublequote>, stringwithoutdoublequotes, <doublequote>);
        let (hq, body) = (g.hnt("doublequote"), g.nt("stringwithoutdoublequotes"));
        let b = g.cat(&[hq, body, hq]);
        g.rule("dqstring", false, b);
        let b = g.re(Re::DqBody);
        g.rule("stringwithoutdoublequotes", true, b);
        let b = g.s("\"");
        g.rule("doublequote", true, b);
        let (hq, body) = (g.hnt("singlequote"), g.nt("stringwithoutsinglequotes"));
        let b = g.cat(&[hq, body, hq]);
        g.rule("sqstring", false, b);
        let b = g.re(Re::SqBody);
        g.rule("stringwithoutsinglequotes", true, b);
        let b = g.s("'");
        g.rule("singlequote", true, b);
        // <groupbyclause> = groupby; groupby = <'group by'>, <whitespace>, fieldlist;
        let b = g.nt("groupby");
        g.rule("groupbyclause", true, b);
        let s = g.s("group by");
        let hs = g.hide(s);
        let b = g.cat(&[hs, hws, fl]);
        g.rule("groupby", false, b);
        // <pagingclause> = limit | offset | orderby;
        let (l, o, ob) = (g.nt("limit"), g.nt("offset"), g.nt("orderby"));
        let b = g.alt(&[l, o, ob]);
        g.rule("pagingclause", true, b);
        // limit = <'limit'>, <whitespace>, integer; offset likewise.
        for word in ["limit", "offset"] {
            let s = g.s(word);
            let hs = g.hide(s);
            let b = g.cat(&[hs, hws, int]);
            g.rule(word, false, b);
        }
        // orderby = <'order by'>, <whitespace>, orderparam, [orderparamlist];
        let (op, opl) = (g.nt("orderparam"), g.nt("orderparamlist"));
        let s = g.s("order by");
        let hs = g.hide(s);
        let oopl = g.opt(opl);
        let b = g.cat(&[hs, hws, op, oopl]);
        g.rule("orderby", false, b);
        // <orderparamlist> = (<','>, [<whitespace>], orderparam)+;
        let c = g.cat(&[hcomma, ows, op]);
        let b = g.plus(c);
        g.rule("orderparamlist", true, b);
        // orderparam = !('asc' | 'desc') field, [<whitespace> direction], [<whitespace>];
        let (asc, desc) = (g.s("asc"), g.s("desc"));
        let ad = g.alt(&[asc, desc]);
        let n = g.neg(ad);
        let dir = g.nt("direction");
        let c = g.cat(&[hws, dir]);
        let oc = g.opt(c);
        let b = g.cat(&[n, field, oc, ows]);
        g.rule("orderparam", false, b);
        g.rule("direction", true, ad);
        for (name, s) in [
            ("lparens", "("),
            ("rparens", ")"),
            ("lbrace", "{"),
            ("rbrace", "}"),
            ("lbracket", "["),
            ("rbracket", "]"),
        ] {
            let b = g.s(s);
            g.rule(name, true, b);
        }
        // boolean = true | false; true = <"true">; false = <"false">;
        let (t, f) = (g.nt("true"), g.nt("false"));
        let b = g.alt(&[t, f]);
        g.rule("boolean", false, b);
        for word in ["true", "false"] {
            let s = g.s(word);
            let b = g.hide(s);
            g.rule(word, false, b);
        }
        // array = lbracket, [<whitespace>], literallist, [<whitespace>] rbracket
        let (lbn, rbn) = (g.nt("lbracket"), g.nt("rbracket"));
        let b = g.cat(&[lbn, ows, ll, ows, rbn]);
        g.rule("array", false, b);
        // <literal> = string | integer | real | boolean | array ;
        let (bo, ar) = (g.nt("boolean"), g.nt("array"));
        let b = g.alt(&[string, int, real, bo, ar]);
        g.rule("literal", true, b);
        // integer = [negative], digits;
        let (neg, digits, pos) = (g.nt("negative"), g.nt("digits"), g.nt("positive"));
        let on = g.opt(neg);
        let b = g.cat(&[on, digits]);
        g.rule("integer", false, b);
        // real = [negative], digits, ".", digits, [exp];
        let (exp, dot) = (g.nt("exp"), g.s("."));
        let oe = g.opt(exp);
        let b = g.cat(&[on, digits, dot, digits, oe]);
        g.rule("real", false, b);
        // exp = <"E" | "e">, [negative | positive], digits;
        let (e1, e2) = (g.s("E"), g.s("e"));
        let a = g.alt(&[e1, e2]);
        let ha = g.hide(a);
        let np = g.alt(&[neg, pos]);
        let onp = g.opt(np);
        let b = g.cat(&[ha, onp, digits]);
        g.rule("exp", false, b);
        let b = g.re(Re::Digits);
        g.rule("digits", true, b);
        let b = g.s("-");
        g.rule("negative", true, b);
        let b = g.s("+");
        g.rule("positive", true, b);
        let b = g.re(Re::Whitespace);
        g.rule("whitespace", true, b);
        g
    }

    /// How Instaparse prints a parser (in a negative lookahead's reason).
    fn print(&self, id: Id) -> String {
        match &self.parsers[id].kind {
            Kind::Str(s) => format!("\"{s}\""),
            Kind::Alt(ps) => ps
                .iter()
                .map(|p| self.print(*p))
                .collect::<Vec<_>>()
                .join(" | "),
            Kind::Nt(n) => (*n).to_string(),
            Kind::Re(r) => format!("#\"{}\"", r.source()),
            _ => String::new(),
        }
    }
}

/// What a failure expected (Instaparse's `:expecting`).
#[derive(Clone, PartialEq, Debug)]
enum Expecting {
    Str(&'static str),
    Re(Re),
    EndOfString,
    Not(String),
    Nothing,
}

impl Expecting {
    fn print(&self) -> String {
        match self {
            Expecting::Str(s) => (*s).to_string(),
            Expecting::Re(r) => format!("#\"{}\"", r.source()),
            Expecting::EndOfString => ":end-of-string".to_string(),
            Expecting::Not(s) => format!("NOT {s}"),
            Expecting::Nothing => "null".to_string(),
        }
    }
}

type Key = (usize, Id);
type Lid = usize;

#[derive(Clone)]
enum Listener {
    Node(Key),
    Cat {
        cat: Id,
        next: usize,
        key: Key,
        full: bool,
    },
    Plus {
        parser: Id,
        prev: usize,
        first: bool,
        key: Key,
        full: bool,
    },
    Top,
    NegFail {
        key: Key,
    },
}

#[derive(Default)]
struct Node {
    listeners: Vec<Lid>,
    full_listeners: Vec<Lid>,
    results: Vec<usize>,
    full_results: Vec<usize>,
}

enum Task {
    Parse(Key),
    FullParse(Key),
    Message(Lid, usize),
}

struct Tramp<'g> {
    g: &'g Grammar,
    text: Vec<u16>,
    stack: Vec<Task>,
    nodes: IntMap<Key, Node>,
    listeners: Vec<Listener>,
    neg_fired: Vec<bool>,
    /// Negative lookaheads waiting for the stack to empty, by index (largest first).
    negative: BTreeMap<std::cmp::Reverse<usize>, Vec<(Key, Key)>>,
    success: bool,
    fail_index: usize,
    reasons: Vec<(Expecting, bool)>,
}

impl Tramp<'_> {
    fn fail(&mut self, index: usize, expecting: Expecting, full: bool) {
        if index > self.fail_index {
            self.fail_index = index;
            self.reasons.clear();
        }
        if index == self.fail_index {
            self.reasons.push((expecting, full));
        }
    }

    fn listener(&mut self, l: Listener) -> Lid {
        self.listeners.push(l);
        self.neg_fired.push(false);
        self.listeners.len() - 1
    }

    fn success(&mut self, key: Key, index: usize) {
        let total = index == self.text.len();
        let node = self.nodes.entry(key).or_default();
        let set = if total {
            &mut node.full_results
        } else {
            &mut node.results
        };
        if set.contains(&index) {
            return;
        }
        set.push(index);
        for l in &node.listeners {
            self.stack.push(Task::Message(*l, index));
        }
        if total {
            for l in &node.full_listeners {
                self.stack.push(Task::Message(*l, index));
            }
        }
    }

    fn push_listener(&mut self, key: Key, l: Listener) {
        let l = self.listener(l);
        let node = self.nodes.entry(key).or_default();
        let exists = !node.listeners.is_empty();
        node.listeners.push(l);
        for i in node.results.iter().chain(node.full_results.iter()) {
            self.stack.push(Task::Message(l, *i));
        }
        if !exists {
            self.stack.push(Task::Parse(key));
        }
    }

    fn push_full_listener(&mut self, key: Key, l: Listener) {
        let l = self.listener(l);
        let node = self.nodes.entry(key).or_default();
        let exists = !node.full_listeners.is_empty() || !node.listeners.is_empty();
        node.full_listeners.push(l);
        for i in &node.full_results {
            self.stack.push(Task::Message(l, *i));
        }
        if !exists {
            self.stack.push(Task::FullParse(key));
        }
    }

    fn result_exists(&self, key: Key) -> bool {
        self.nodes
            .get(&key)
            .is_some_and(|n| !n.results.is_empty() || !n.full_results.is_empty())
    }

    fn message(&mut self, lid: Lid, index: usize) {
        match self.listeners[lid].clone() {
            Listener::Node(key) => self.success(key, index),
            Listener::Top => self.success = true,
            Listener::NegFail { key } => {
                if !self.neg_fired[lid] {
                    self.neg_fired[lid] = true;
                    let Kind::Neg(inner) = self.g.parsers[key.1].kind else {
                        return;
                    };
                    let text = self.g.print(inner);
                    self.fail(key.0, Expecting::Not(text), false);
                }
            }
            Listener::Cat {
                cat,
                next,
                key,
                full,
            } => {
                let Kind::Cat(ps) = &self.g.parsers[cat].kind else {
                    return;
                };
                let l = Listener::Cat {
                    cat,
                    next: next + 1,
                    key,
                    full,
                };
                if next >= ps.len() {
                    self.success(key, index);
                } else if full && next == ps.len() - 1 {
                    self.push_full_listener((index, ps[next]), l);
                } else {
                    self.push_listener((index, ps[next]), l);
                }
            }
            Listener::Plus {
                parser,
                prev,
                first,
                key,
                full,
            } => {
                if index == prev {
                    if first {
                        self.success(key, index);
                    }
                    return;
                }
                let l = Listener::Plus {
                    parser,
                    prev: index,
                    first: false,
                    key,
                    full,
                };
                if full {
                    if index == self.text.len() {
                        self.success(key, index);
                    } else {
                        self.push_listener((index, parser), l);
                    }
                } else {
                    self.push_listener((index, parser), l);
                    self.success(key, index);
                }
            }
        }
    }

    fn parse(&mut self, key: Key, full: bool) {
        let (i, id) = key;
        let len = self.text.len();
        match &self.g.parsers[id].kind {
            Kind::Nt(name) => {
                let Some(body) = self.g.rules.get(name).copied() else {
                    return;
                };
                if full {
                    self.push_full_listener((i, body), Listener::Node(key));
                } else {
                    self.push_listener((i, body), Listener::Node(key));
                }
            }
            Kind::Alt(ps) => {
                for p in ps.clone() {
                    if full {
                        self.push_full_listener((i, p), Listener::Node(key));
                    } else {
                        self.push_listener((i, p), Listener::Node(key));
                    }
                }
            }
            Kind::Cat(ps) => {
                let first = ps[0];
                let l = Listener::Cat {
                    cat: id,
                    next: 1,
                    key,
                    full,
                };
                self.push_listener((i, first), l);
            }
            Kind::Str(s) => {
                let s16: Vec<u16> = s.encode_utf16().collect();
                let matched = self.text[i..].starts_with(&s16);
                if matched && (!full || i + s16.len() == len) {
                    self.success(key, i + s16.len());
                } else {
                    self.fail(i, Expecting::Str(s), full);
                }
            }
            Kind::Re(r) => {
                let r = *r;
                match r.match_at(&self.text[i..]) {
                    Some(n) if !full || i + n == len => self.success(key, i + n),
                    _ => self.fail(i, Expecting::Re(r), full),
                }
            }
            Kind::Opt(p) => {
                let p = *p;
                if full {
                    self.push_full_listener((i, p), Listener::Node(key));
                    if i == len {
                        self.success(key, i);
                    } else {
                        self.fail(i, Expecting::EndOfString, false);
                    }
                } else {
                    self.push_listener((i, p), Listener::Node(key));
                    self.success(key, i);
                }
            }
            Kind::Star(p) | Kind::Plus(p) => {
                let (p, star) = (*p, matches!(self.g.parsers[id].kind, Kind::Star(_)));
                let l = Listener::Plus {
                    parser: p,
                    prev: i,
                    first: true,
                    key,
                    full,
                };
                if full {
                    if star && i == len {
                        self.success(key, i);
                    } else {
                        self.push_listener((i, p), l);
                    }
                } else {
                    self.push_listener((i, p), l);
                    if star {
                        self.success(key, i);
                    }
                }
            }
            Kind::Neg(p) => {
                let inner = (i, *p);
                if self.result_exists(inner) {
                    self.fail(i, Expecting::Nothing, false);
                } else {
                    self.push_listener(inner, Listener::NegFail { key });
                    self.negative
                        .entry(std::cmp::Reverse(i))
                        .or_default()
                        .push((inner, key));
                }
            }
        }
    }

    /// Runs until a parse of the whole text is found (`true`), or nothing is left to try.
    fn run(&mut self) -> Option<bool> {
        let mut steps = 0;
        loop {
            if self.success {
                return Some(true);
            }
            steps += 1;
            if steps > MAX_STEPS {
                return None;
            }
            if let Some(task) = self.stack.pop() {
                match task {
                    Task::Parse(key) => self.parse(key, false),
                    Task::FullParse(key) => self.parse(key, true),
                    Task::Message(l, i) => self.message(l, i),
                }
                continue;
            }
            let Some(mut entry) = self.negative.first_entry() else {
                return Some(false);
            };
            let waiting = entry.get_mut();
            let Some((inner, key)) = waiting.pop() else {
                entry.remove();
                continue;
            };
            if waiting.is_empty() {
                entry.remove();
            }
            if !self.result_exists(inner) {
                self.success(key, key.0);
            }
        }
    }
}

/// The failure PuppetDB reports for `text`: the UTF-16 index of the furthest failure and
/// the `Expected...` part of its message. `None` when the grammar accepts the text, or
/// when finding out would take too long.
pub(crate) fn explain(text: &str) -> Option<(usize, String)> {
    use std::sync::OnceLock;
    static GRAMMAR: OnceLock<Grammar> = OnceLock::new();
    let g = GRAMMAR.get_or_init(Grammar::pql);
    let query = g.nt_id("query")?;
    let mut t = Tramp {
        g,
        text: text.encode_utf16().collect(),
        stack: Vec::new(),
        nodes: IntMap::default(),
        listeners: Vec::new(),
        neg_fired: Vec::new(),
        negative: BTreeMap::new(),
        success: false,
        fail_index: 0,
        reasons: Vec::new(),
    };
    t.push_full_listener((0, query), Listener::Top);
    if t.run()? {
        return None;
    }
    let mut full: Vec<String> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    for (e, is_full) in &t.reasons {
        let list = if *is_full { &mut full } else { &mut partial };
        let p = e.print();
        if !list.contains(&p) {
            list.push(p);
        }
    }
    let mut out = String::new();
    match full.len() + partial.len() {
        0 => {}
        1 => out.push_str("Expected:\n"),
        _ => out.push_str("Expected one of:\n\n"),
    }
    for f in full {
        out.push_str(&f);
        out.push_str(" (followed by end-of-string)");
    }
    for p in partial {
        out.push_str(&p);
        out.push('\n');
    }
    Some((t.fail_index, out))
}

impl Grammar {
    /// The (unhidden) non-terminal `name` as a parser, the start of a parse.
    fn nt_id(&self, name: &'static str) -> Option<Id> {
        self.interned
            .get(&Parser {
                kind: Kind::Nt(name),
                hide: false,
                red: None,
            })
            .copied()
    }
}

/// PuppetDB's whole message for a PQL query that does not parse, with the line and column
/// it names: `PQL parse error at line 1, column 20:` and the line, a marker, and what was
/// expected there. `None` as for [`explain`].
pub(crate) fn message(text: &str) -> Option<(usize, usize, String)> {
    let (index, expected) = explain(text)?;
    // Instaparse counts UTF-16 units, a new line after each `\n`.
    let (mut line, mut column) = (1, 1);
    for unit in text.encode_utf16().take(index) {
        if unit == u16::from(b'\n') {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    // The line as Java's line reader splits (`\n`, `\r`, `\r\n`); an empty query prints as
    // Clojure's nil.
    let shown = if text.is_empty() {
        "null".to_string()
    } else {
        let mut java_lines = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            java_lines.push(&rest[..end]);
            rest = &rest[end..];
            if rest.starts_with("\r\n") {
                rest = &rest[2..];
            } else if !rest.is_empty() {
                rest = &rest[1..];
            }
        }
        java_lines.get(line - 1).copied().unwrap_or("").to_string()
    };
    let marker = if column <= 1 {
        "^".to_string()
    } else {
        format!("{}^", " ".repeat(column - 1))
    };
    Some((
        line,
        column,
        format!(
            "PQL parse error at line {}, column {}:\n\n{shown}\n{marker}\n\n{expected}",
            grouped(line),
            grouped(column)
        ),
    ))
}

/// A number as Java's `MessageFormat` prints it (thousands grouped: `1,234`).
pub(crate) fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
