package main

func onlyOnAMD64() int { return 64 }
