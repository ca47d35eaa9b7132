module igz-operator/hack/cluster/probe

go 1.22
