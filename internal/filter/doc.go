// Package filter implements RocketMQ's SQL92 message selector: the language
// a consumer uses in MessageSelector.bySql("a > 5 AND TAGS = 'red'") to have
// the broker deliver only the messages it wants.
//
// The package owns the lexer, the recursive-descent parser, the checks the
// parser applies before it accepts an expression, and the evaluator. It has
// no goroutines and no global state; Cache is a bounded, concurrency-safe
// memo of Compile for the broker, which sees the same expression on every
// heartbeat.
//
// # Grammar
//
// Keywords are case-insensitive; identifiers and string contents are not.
//
//	selector   = or EOF
//	or         = and { OR and }
//	and        = equality { AND equality }
//	equality   = comparison { ( "=" | "<>" ) comparison | IS [NOT] NULL }
//	comparison = unary { ( ">" | ">=" | "<" | "<=" ) unary
//	                   | [NOT] BETWEEN unary AND unary
//	                   | [NOT] IN "(" string { "," string } ")"
//	                   | [NOT] ( CONTAINS | STARTSWITH | ENDSWITH ) string }
//	unary      = "+" unary | "-" unary | NOT unary | primary
//	primary    = literal | identifier | "(" or ")"
//	literal    = string | decimal | float | TRUE | FALSE | NULL
//
//	identifier = [a-zA-Z_$] [a-zA-Z0-9_$]*            (not a keyword)
//	decimal    = "0" | [1-9] [0-9]* [lL]                 (fits in int64)
//	float      = [0-9]+ "." [0-9]* [exp] | "." [0-9]+ [exp] | [0-9]+ exp
//	exp        = [eE] [+-] [0-9]+
//	string     = "'" { any character but "'" | "''" } "'"
//
// Blanks are space, tab, CR, LF and form feed; "--" starts a comment that
// runs to the end of the line and "/* ... */" is a block comment.
//
// Note the precedence, which is RocketMQ's (inherited from ActiveMQ): the
// prefix operators bind tighter than any comparison, so "NOT a = 1" means
// "(NOT a) = 1" — never TRUE — and not "NOT (a = 1)". String prints the
// parenthesised form so the difference is visible.
//
// # Checks at compile time
//
// Compile refuses, with the position and the reason:
//   - anything the grammar does not derive, including trailing input;
//   - an operand of AND, OR, NOT or the whole selector that is a number,
//     a string or a negation (a bare property is accepted; see below);
//   - a literal operand of >, >=, <, <= or BETWEEN that is not a number, and a
//     boolean expression (a comparison, TRUE, FALSE, NULL ...) in those places;
//   - NULL as an operand of = or <> (write IS NULL), and TRUE or FALSE on the
//     left of = or <> with a number or string literal on the right;
//   - IN whose left side is not a property;
//   - BETWEEN whose two literal bounds are out of order;
//   - a decimal that does not fit in int64, a float that overflows, or a
//     non-zero float that underflows to zero;
//   - nesting deeper than MaxDepth.
//
// # Evaluation
//
// Message properties are strings. A value is NULL (a missing property or the
// NULL literal), a boolean, an int (a decimal literal in int32 range), a long
// (any other decimal literal), a double (a float literal) or a string. The
// pseudo-property TAGS is simply the property named "TAGS", which every
// tagged message carries; nothing about it is special here.
//
// Comparison follows RocketMQ's ComparisonExpression exactly:
//   - = with one side NULL is unknown when the left side is NULL and FALSE
//     when the right side is; both sides NULL is TRUE. <> is NOT (=).
//   - >, >=, <, <= with either side NULL is unknown. Two strings are both
//     read as doubles.
//   - Otherwise unlike types are converted towards the right-hand side's
//     type: a property compared with an int literal is read as a Java int,
//     with a long literal as a long, with a float literal as a double, with
//     TRUE or FALSE as a boolean (only "true", in any case, is true).
//     Consequently "a > 5" with a = "5.5" is an error (write 5.0), while
//     "a > 5.0" is TRUE.
//   - A property that cannot be converted raises an error, as Java's
//     NumberFormatException does. An error aborts the evaluation of the whole
//     selector and the message does not match — even inside NOT or OR, and
//     even if a later OR operand would have been TRUE. Evaluation is left to
//     right and AND/OR short-circuit exactly as in Java, so "x = 'a' OR n > 1"
//     matches a message with x = 'a' and n = 'oops', while
//     "n > 1 OR x = 'a'" does not.
//   - Numbers of different types are compared after widening (int to long to
//     double); doubles use Java's Double.compare order, in which -0.0 < 0.0
//     and NaN equals itself and is above +Infinity.
//
// Logic is SQL's three-valued logic: NOT unknown is unknown; FALSE AND x is
// FALSE; TRUE OR x is TRUE; otherwise unknown wins over TRUE in AND and over
// FALSE in OR. A bare property used as a boolean is unknown when missing
// and FALSE when present (properties are strings, never booleans). IN and
// NOT IN are unknown for a missing property. CONTAINS, STARTSWITH,
// ENDSWITH and their NOT forms are FALSE for a missing property and for an
// empty search string. A message matches only when the selector is TRUE.
//
// # Deliberate differences from RocketMQ 5
//
//   - Trailing input is an error. Java's parser stops at the first token it
//     cannot use and silently drops the rest ("a = 1 b = 2" means "a = 1").
//   - A float literal equal to zero ("0.0") is accepted; Java refuses it
//     because its range check compares with Double.MIN_VALUE.
//   - A "--" comment may end at the end of the input; Java requires a line
//     break after it.
//   - Nesting is limited to MaxDepth; Java fails with a StackOverflowError
//     at some larger, JVM-dependent depth.
//   - Properties are read as numbers with ASCII digits only; Java's
//     Integer.parseInt also accepts other Unicode decimal digits.
//
// # Canonical form
//
// Expression.String prints keywords in upper case, every compound operand in
// parentheses, chains of AND (and of OR) as one flat list, and literals in
// the form the lexer reads back with the same type. Compile(e.String())
// yields an expression whose String is identical.
package filter
