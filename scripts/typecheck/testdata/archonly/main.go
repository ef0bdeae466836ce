package main

import "fmt"

func main() { fmt.Println(onlyOnAMD64()) }
