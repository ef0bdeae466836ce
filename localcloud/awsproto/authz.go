package awsproto

// DeniedError is what a service's Go API returns when it authorizes a call
// made on a principal's behalf outside HTTP (EventBridge sending a dead
// letter, Lambda sending an on-failure record) and the policies deny it:
// Err is the AccessDenied error the API call would have returned, Why the
// policy engine's explanation, which AWS does not give but the local cloud
// reports.
type DeniedError struct {
	Err *Error
	Why string
}

func (e *DeniedError) Error() string {
	if e.Why == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + " (" + e.Why + ")"
}

// Authorize decides with a (nil allows everything) and returns a
// *DeniedError carrying the service's AccessDenied code when p may not.
func Authorize(a Authorizer, code string, p *Principal, action, resource string, conditions map[string]string) error {
	if a == nil || p == nil || p.Admin {
		return nil
	}
	d := a.Decide(p, action, resource, conditions)
	if d.Allowed {
		return nil
	}
	return &DeniedError{Err: AccessDenied(code, p, action, resource, d), Why: d.Why}
}
