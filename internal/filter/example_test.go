package filter_test

import (
	"fmt"

	"github.com/gorocket/gorocket/internal/filter"
)

func Example() {
	e, err := filter.Compile("(a BETWEEN 0 AND 3) AND region = 'eu' AND TAGS = 'red'")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e)
	fmt.Println(e.Match(filter.Map{"a": "2", "region": "eu", "TAGS": "red"}))
	fmt.Println(e.Match(filter.Map{"a": "7", "region": "eu", "TAGS": "red"}))
	fmt.Println(e.Match(filter.Map{"a": "2", "region": "eu"})) // TAGS missing: unknown

	_, err = filter.Compile("a BETWEEN 1 AND")
	fmt.Println(err)
	// Output:
	// (a BETWEEN 0 AND 3) AND (region = 'eu') AND (TAGS = 'red')
	// true
	// false
	// false
	// filter: invalid SQL92 expression at 1:16: expected a property, a literal or (, found end of input
}
