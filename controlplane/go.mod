module github.com/py-scheduler/py-scheduler/controlplane

go 1.26.0
