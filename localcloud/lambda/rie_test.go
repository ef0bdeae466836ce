package lambda

import "testing"

func TestRIEAnswers(t *testing.T) {
	if fe := functionError([]byte(`{"errorMessage":"boom","errorType":"StepInputInvalid"}`)); fe == nil || fe.Type != "StepInputInvalid" || fe.Message != "boom" {
		t.Errorf("handler error: got %+v", fe)
	}
	if fe := functionError([]byte(`{"errorMessage":"x","errorType":"T","stackTrace":[{"path":"a"}]}`)); fe == nil || len(fe.StackTrace) != 1 {
		t.Errorf("stack trace of objects: got %+v", fe)
	}
	for _, ok := range []string{`{"outcome":"Started"}`, `{"errorMessage":"x","outcome":"Rejected"}`, `"errorMessage"`, `[]`} {
		if fe := functionError([]byte(ok)); fe != nil {
			t.Errorf("%s is a result, not an error: got %+v", ok, fe)
		}
	}
	if msg, ok := timedOutAnswer([]byte("Task timed out after 30.00 seconds")); !ok || msg != "Task timed out after 30.00 seconds" {
		t.Errorf("timeout body not recognised: %q %v", msg, ok)
	}
	if r := NewRIE(RIEConfig{Timeout: 1500e6}); r.timeoutSeconds() != 2 {
		t.Errorf("1.5s timeout: AWS_LAMBDA_FUNCTION_TIMEOUT %d, want 2", r.timeoutSeconds())
	}
}
