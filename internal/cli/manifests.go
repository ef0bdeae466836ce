package cli

import (
	"bytes"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Pinned versions of what runs on the cluster. Source: aws/amazon-eks-connector
// at commit 0cfd7c9a891c5e7ef33d15fba15a5338cca445df ("bump chart 0.0.11"),
// charts/eks-connector/Chart.yaml (version 0.0.11, appVersion "0.0.11", the
// default tag of the eks-connector image) and charts/eks-connector/values.yaml
// (images.ssmAgent.tag "3.2.2303.0"). Each is a flag of install.
const (
	DefaultChartVersion     = "0.0.11"
	DefaultConnectorTag     = "0.0.11"
	DefaultSSMAgentTag      = "3.2.2303.0"
	ChartRef                = "oci://public.ecr.aws/eks-connector/eks-connector-chart"
	ConnectorImageRepo      = "public.ecr.aws/eks-connector/eks-connector"
	SSMAgentImageRepo       = "public.ecr.aws/amazon-ssm-agent/amazon-ssm-agent"
	DefaultReplicas         = 2
	helmRelease             = "eks-connector"
	agentNamespace          = "eks-connector"
	serviceAccountName      = "eks-connector"
	activationSecretName    = "eks-connector-activation-config"
	tokenSecretName         = "eks-connector-token"
	secretAccessName        = "eks-connector-secret-access"
	metaAccessName          = "eks-connector-cluster-meta-access"
	agentConfigMapName      = "eks-connector-agent"
	statefulSetName         = "eks-connector"
	impersonateName         = "eks-connector-service"
	consoleAccessName       = "eks-connector-console-access"
	stateSecretPrefix       = "eks-connector-state-"
	agentManifestFile       = "eks-connector.yaml"
	consoleManifestFile     = "eks-connector-console-access.yaml"
	helmValuesFile          = "eks-connector-values.yaml"
	agentAppLabel           = "eks-connector"
	linuxAMD64SelectorArch  = "amd64"
	linuxAMD64SelectorOS    = "linux"
	nodeSelectorArchKey     = "kubernetes.io/arch"
	nodeSelectorOSKey       = "kubernetes.io/os"
	agentConfigJSON         = `{"Profile":{"KeyAutoRotateDays":7},"Agent":{"ContainerMode":true},"Identity":{"ConsumptionOrder":["OnPrem"]}}`
	activationCodeSecretKey = "code"
)

// NodeSelector pins the agent's pods to Linux x86-64 nodes, the only ones
// EKS Connector supports.
func NodeSelector() map[string]string {
	return map[string]string{nodeSelectorArchKey: linuxAMD64SelectorArch, nodeSelectorOSKey: linuxAMD64SelectorOS}
}

// ManifestOptions is what the agent's manifests are rendered from.
type ManifestOptions struct {
	ActivationID      string
	ActivationCode    string
	Region            string
	Replicas          int
	ConnectorTag      string
	SSMAgentTag       string
	ConsoleAccessArns []string
}

// AgentObjects are the objects the agent needs: its namespace, the
// activation Secret, its service account and token, RBAC for its state
// secrets and for /version, its SSM agent config, and the StatefulSet.
func AgentObjects(o ManifestOptions) []any {
	ns := agentNamespace
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	var stateSecrets []string
	for i := 0; i < o.Replicas; i++ {
		stateSecrets = append(stateSecrets, stateSecretPrefix+strconv.Itoa(i))
	}
	no := false
	labels := map[string]string{"app": agentAppLabel}
	connectorImage := ConnectorImageRepo + ":" + o.ConnectorTag
	replicas := int32(o.Replicas)
	secCtx := &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Add: []corev1.Capability{"DAC_OVERRIDE"}, Drop: []corev1.Capability{"all"}},
	}
	podName := corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}
	mount := func(name, path, sub string) corev1.VolumeMount {
		return corev1.VolumeMount{Name: name, MountPath: path, SubPath: sub}
	}
	return []any{
		&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta(activationSecretName), Type: corev1.SecretTypeOpaque,
			// Data is written base64-encoded, as the agent's manifest expects it.
			Data: map[string][]byte{activationCodeSecretKey: []byte(o.ActivationCode)}},
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(serviceAccountName), AutomountServiceAccountToken: &no},
		&corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), Type: corev1.SecretTypeServiceAccountToken,
			ObjectMeta: metav1.ObjectMeta{Name: tokenSecretName, Namespace: ns, Annotations: map[string]string{corev1.ServiceAccountNameKey: serviceAccountName}}},
		&rbacv1.Role{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(secretAccessName), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "update"}, ResourceNames: stateSecrets},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
		}},
		&rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(secretAccessName),
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccountName, Namespace: ns}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: secretAccessName}},
		&rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: metav1.ObjectMeta{Name: metaAccessName},
			Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/version"}, Verbs: []string{"get"}}}},
		&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: metav1.ObjectMeta{Name: metaAccessName},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccountName, Namespace: ns}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metaAccessName}},
		&corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta(agentConfigMapName),
			Data: map[string]string{"amazon-ssm-agent.json": agentConfigJSON}},
		&appsv1.StatefulSet{TypeMeta: typeMeta("apps/v1", "StatefulSet"),
			ObjectMeta: metav1.ObjectMeta{Name: statefulSetName, Namespace: ns, Labels: labels},
			Spec: appsv1.StatefulSetSpec{
				Replicas:    &replicas,
				ServiceName: statefulSetName,
				Selector:    &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: serviceAccountName,
						NodeSelector:       NodeSelector(),
						Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
							PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
								PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
									LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}}}},
						Tolerations: []corev1.Toleration{
							{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule},
							{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists},
						},
						InitContainers: []corev1.Container{{
							Name: "connector-init", Image: connectorImage, ImagePullPolicy: corev1.PullIfNotPresent,
							Env: []corev1.EnvVar{podName,
								{Name: "EKS_ACTIVATION_CODE", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
									LocalObjectReference: corev1.LocalObjectReference{Name: activationSecretName}, Key: activationCodeSecretKey}}},
								{Name: "EKS_ACTIVATION_ID", Value: o.ActivationID}},
							Args: []string{"init", "--activation.id=$(EKS_ACTIVATION_ID)", "--activation.code=$(EKS_ACTIVATION_CODE)", "--agent.region=" + o.Region},
							VolumeMounts: []corev1.VolumeMount{mount("service-account-token", "/var/run/secrets/kubernetes.io/serviceaccount", ""),
								mount("eks-agent-vault", "/var/lib/amazon/ssm/Vault", "")},
							SecurityContext: secCtx,
						}},
						Containers: []corev1.Container{{
							Name: "connector-agent", Image: SSMAgentImageRepo + ":" + o.SSMAgentTag, ImagePullPolicy: corev1.PullIfNotPresent,
							Env: []corev1.EnvVar{{Name: "AWS_EC2_METADATA_DISABLED", Value: "true"}},
							VolumeMounts: []corev1.VolumeMount{mount("eks-connector-shared", "/var/eks/shared", ""),
								mount("eks-agent-vault", "/var/lib/amazon/ssm/Vault", ""),
								mount("eks-agent-config", "/etc/amazon/ssm/amazon-ssm-agent.json", "amazon-ssm-agent.json")},
							SecurityContext: secCtx,
						}, {
							Name: "connector-proxy", Image: connectorImage, ImagePullPolicy: corev1.PullIfNotPresent,
							Env:  []corev1.EnvVar{podName},
							Args: []string{"server"},
							VolumeMounts: []corev1.VolumeMount{mount("service-account-token", "/var/run/secrets/kubernetes.io/serviceaccount", ""),
								mount("eks-connector-shared", "/var/eks/shared", ""), mount("eks-agent-vault", "/var/lib/amazon/ssm/Vault", "")},
							SecurityContext: secCtx,
						}},
						Volumes: []corev1.Volume{
							{Name: "eks-connector-shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
							{Name: "eks-agent-vault", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
							{Name: "eks-agent-config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
								LocalObjectReference: corev1.LocalObjectReference{Name: agentConfigMapName}}}},
							{Name: "service-account-token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: tokenSecretName}}},
						},
					},
				},
			},
		},
	}
}

// ConsoleAccessObjects let the given IAM principals see the cluster in the
// EKS console: the agent may impersonate exactly them (never an empty
// resourceNames list, which would mean every user), and they may read the
// workloads the console shows. Nil without ARNs.
func ConsoleAccessObjects(arns []string) []any {
	if len(arns) == 0 {
		return nil
	}
	var users []rbacv1.Subject
	for _, a := range arns {
		users = append(users, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: a})
	}
	read := []string{"get", "list"}
	return []any{
		&rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: metav1.ObjectMeta{Name: impersonateName},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"users"}, Verbs: []string{"impersonate"}, ResourceNames: append([]string(nil), arns...)}}},
		&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: metav1.ObjectMeta{Name: impersonateName},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccountName, Namespace: agentNamespace}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: impersonateName}},
		&rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: metav1.ObjectMeta{Name: consoleAccessName},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"nodes", "namespaces", "pods", "events"}, Verbs: read},
				{APIGroups: []string{"apps"}, Resources: []string{"deployments", "daemonsets", "statefulsets", "replicasets"}, Verbs: read},
				{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: read},
			}},
		&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: metav1.ObjectMeta{Name: consoleAccessName},
			Subjects: users,
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: consoleAccessName}},
	}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// RenderYAML writes objects as one multi-document YAML stream.
func RenderYAML(objs []any) ([]byte, error) {
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("rendering %T: %w", o, err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}

// HelmValues are the chart's values for this activation (value names from
// the chart's values.yaml; see DefaultChartVersion).
func HelmValues(o ManifestOptions) map[string]any {
	arns := o.ConsoleAccessArns
	if arns == nil {
		arns = []string{}
	}
	return map[string]any{
		"eks": map[string]any{
			"activationCode": o.ActivationCode,
			"activationId":   o.ActivationID,
			"agentRegion":    o.Region,
		},
		"replicaCount":   o.Replicas,
		"authentication": map[string]any{"allowedUserARNs": arns},
		"images": map[string]any{
			"eksConnector": map[string]any{"tag": o.ConnectorTag},
			"ssmAgent":     map[string]any{"tag": o.SSMAgentTag},
		},
		"deploy": map[string]any{"podLabelSelector": NodeSelector()},
	}
}
