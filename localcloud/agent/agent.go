// Package agent simulates the cluster side: an operator's pipeline that sees
// the "Activation Ready" event, runs the install command (which reads the
// activation code from SSM), and the eks-connector agent replicas registering
// with SSM as hybrid managed instances.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// Mode is how the simulated agent behaves.
type Mode string

// The agent modes `make run SCENARIO=…` and the tests use.
const (
	Connects         Mode = "connects"           // installs after Delay and stays Online
	NeverConnects    Mode = "never-connects"     // nobody installs it
	WrongCode        Mode = "wrong-code"         // installs with a wrong code: InvalidActivation
	AfterExpiry      Mode = "after-expiry"       // installs only after the activation expired
	ConnectsThenLost Mode = "connects-then-lost" // connects after Delay, loses its connection after LostAfter
	// Manual: nothing happens on "Activation Ready"; the agent registers
	// only when handed an activation id and code (Apply), as a cluster does
	// when the operator applies what `eks-connector-registrar install` wrote.
	Manual Mode = "manual"
)

// Modes lists every mode `make run` can use (Manual needs a caller to hand
// it the activation).
var Modes = []Mode{Connects, NeverConnects, WrongCode, AfterExpiry, ConnectsThenLost}

// Config configures the simulation.
type Config struct {
	Mode      Mode
	Delay     time.Duration // from "Activation Ready" to install; default 7 minutes
	Replicas  int           // agent replicas, each a managed instance; default 2
	LostAfter time.Duration // for ConnectsThenLost; default 10 minutes
	// OnlyCluster, when set, limits the agent to that cluster.
	OnlyCluster string
	// DelayFor, when set, gives each cluster its own Delay (agents
	// installed at spread times).
	DelayFor func(cluster string) time.Duration
	// InstallAt, when set, overrides Delay and DelayFor: the agent installs
	// at that virtual time, or at once when Activation Ready comes later (an
	// agent timed against the deadline, not against the code's publication).
	InstallAt func(cluster string) time.Time
}

// Registrar is the SSM side the agent talks to: the stand-in for the
// non-public RegisterManagedInstance call the real agent makes.
type Registrar interface {
	RegisterManagedInstance(activationID, activationCode, instanceID string) error
	SetPingStatus(instanceID, status string) error
}

// Record is one thing the agent did, for the timeline and tests.
type Record struct {
	Time    time.Time
	Cluster string
	What    string
	Err     error
}

// Agent reacts to "Activation Ready" events.
type Agent struct {
	cfg     Config
	clk     clock.Clock
	ssm     *ssm.Client // the operator's credentials, as the install command uses them
	reg     Registrar
	mu      sync.Mutex
	log     []Record
	seen    map[string]bool
	codes   []string
	pending int
	OnLog   func(Record)
}

// CodesRead returns the activation codes the install command read, so tests
// can prove the code appears nowhere else. Never printed.
func (a *Agent) CodesRead() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.codes...)
}

// New builds an agent. ssmCfg is the operator's AWS configuration.
func New(cfg Config, clk clock.Clock, ssmCfg aws.Config, reg Registrar) *Agent {
	if cfg.Mode == "" {
		cfg.Mode = Connects
	}
	if cfg.Delay == 0 {
		cfg.Delay = 7 * time.Minute
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 2
	}
	if cfg.LostAfter == 0 {
		cfg.LostAfter = 10 * time.Minute
	}
	return &Agent{cfg: cfg, clk: clk, ssm: ssm.NewFromConfig(ssmCfg), reg: reg, seen: map[string]bool{}}
}

// Log returns what the agent did.
func (a *Agent) Log() []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Record(nil), a.log...)
}

func (a *Agent) record(cluster, what string, err error) {
	r := Record{Time: a.clk.Now(), Cluster: cluster, What: what, Err: err}
	a.mu.Lock()
	a.log = append(a.log, r)
	f := a.OnLog
	a.mu.Unlock()
	if f != nil {
		f(r)
	}
}

// ActivationReady is the part of the "Activation Ready" detail the operator uses.
type ActivationReady struct {
	ClusterName      string `json:"clusterName"`
	ActivationID     string `json:"activationId"`
	ActivationExpiry string `json:"activationExpiry"`
	CodeParameter    string `json:"codeParameter"`
	Region           string `json:"region"`
	InstallCommand   string `json:"installCommand"`
}

// HandleEvent is subscribed to the event bus. It returns at once; the install
// happens later on the clock.
func (a *Agent) HandleEvent(detailType string, detail json.RawMessage) {
	if detailType != "Activation Ready" || a.cfg.Mode == NeverConnects || a.cfg.Mode == Manual {
		return
	}
	var ev ActivationReady
	if err := json.Unmarshal(detail, &ev); err != nil || ev.ActivationID == "" || ev.CodeParameter == "" {
		a.record(ev.ClusterName, "ignored an Activation Ready event without activationId/codeParameter", err)
		return
	}
	if a.cfg.OnlyCluster != "" && a.cfg.OnlyCluster != ev.ClusterName {
		return
	}
	a.mu.Lock()
	dup := a.seen[ev.ActivationID]
	a.seen[ev.ActivationID] = true
	a.mu.Unlock()
	if dup {
		return
	}
	a.mu.Lock()
	a.pending++
	a.mu.Unlock()
	a.clk.Go(func() { a.install(ev) })
}

func (a *Agent) done() {
	a.mu.Lock()
	a.pending--
	a.mu.Unlock()
}

// Pending reports whether an install is still to happen (the agent sleeps
// until its time comes).
func (a *Agent) Pending() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending > 0
}

func (a *Agent) install(ev ActivationReady) {
	defer a.done()
	ctx := context.Background()
	delay := a.cfg.Delay
	if a.cfg.DelayFor != nil {
		delay = a.cfg.DelayFor(ev.ClusterName)
	}
	if a.cfg.InstallAt != nil {
		delay = max(0, a.cfg.InstallAt(ev.ClusterName).Sub(a.clk.Now()))
	}
	if err := clock.Sleep(ctx, a.clk, delay); err != nil {
		return
	}
	// What the install command does: read the code from SSM.
	out, err := a.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ev.CodeParameter), WithDecryption: aws.Bool(true)})
	if err != nil {
		a.record(ev.ClusterName, "install command could not read the activation code", err)
		return
	}
	code := aws.ToString(out.Parameter.Value)
	a.mu.Lock()
	a.codes = append(a.codes, code)
	a.mu.Unlock()
	if a.cfg.Mode == WrongCode {
		code = strings.Repeat("x", len(code))
	}
	if a.cfg.Mode == AfterExpiry {
		// The operator rendered the manifest in time but applied it only
		// after the activation expired: SSM must refuse the registration.
		exp, err := time.Parse(time.RFC3339, ev.ActivationExpiry)
		if err != nil {
			a.record(ev.ClusterName, "Activation Ready has no usable activationExpiry", err)
			return
		}
		a.record(ev.ClusterName, "install command read the code; the manifest waits until after "+ev.ActivationExpiry, nil)
		if err := a.clk.SleepUntil(ctx, exp.Add(time.Minute)); err != nil {
			return
		}
	}
	a.record(ev.ClusterName, fmt.Sprintf("helm install eks-connector (activation %s, %d replicas)", ev.ActivationID, a.cfg.Replicas), nil)
	var ids []string
	for i := 0; i < a.cfg.Replicas; i++ {
		id := InstanceID(ev.ClusterName)
		if err := a.reg.RegisterManagedInstance(ev.ActivationID, code, id); err != nil {
			a.record(ev.ClusterName, "replica "+fmt.Sprint(i)+" failed to register with SSM", err)
			continue
		}
		ids = append(ids, id)
		a.record(ev.ClusterName, "replica "+fmt.Sprint(i)+" registered as "+id+" (Online)", nil)
	}
	if a.cfg.Mode != ConnectsThenLost || len(ids) == 0 {
		return
	}
	if err := clock.Sleep(ctx, a.clk, a.cfg.LostAfter); err != nil {
		return
	}
	for _, id := range ids {
		_ = a.reg.SetPingStatus(id, "ConnectionLost")
	}
	a.record(ev.ClusterName, "agent lost its connection (ConnectionLost)", nil)
}

// Apply is the cluster applying an agent manifest: each replica registers
// with SSM with the activation id and code it was given (the Manual mode's
// only way to connect). It returns the managed instance ids registered, and
// the first error SSM answered.
func (a *Agent) Apply(cluster, activationID, activationCode string) ([]string, error) {
	a.record(cluster, fmt.Sprintf("kubectl apply: the manifest's agent starts (activation %s, %d replicas)", activationID, a.cfg.Replicas), nil)
	var ids []string
	var first error
	for i := 0; i < a.cfg.Replicas; i++ {
		id := InstanceID(cluster)
		if err := a.reg.RegisterManagedInstance(activationID, activationCode, id); err != nil {
			a.record(cluster, "replica "+fmt.Sprint(i)+" failed to register with SSM", err)
			if first == nil {
				first = err
			}
			continue
		}
		ids = append(ids, id)
		a.record(cluster, "replica "+fmt.Sprint(i)+" registered as "+id+" (Online)", nil)
	}
	return ids, first
}

// InstanceID makes an id shaped like the connector's: eks_c:<cluster>_<17 chars>.
func InstanceID(cluster string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [17]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "eks_c:" + cluster + "_" + string(b[:])
}
