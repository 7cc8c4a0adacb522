package control

import (
	"errors"
	"strconv"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// VariableInput sets a variable. A secret's value goes to the cluster's
// Secret only, never to the KV store.
type VariableInput struct {
	Value  string
	Secret bool
}

func (s *Service) Variables(p *Principal, slug, app string) ([]spinport.Variable, error) {
	_, a, err := s.appAccess(p, slug, app, spinport.RoleViewer)
	if err != nil {
		return nil, err
	}
	return s.DB.Variables(a.Tenant, a.Name)
}

// SetVariable sets a variable and redeploys a deployed app; created
// reports whether the variable is new.
func (s *Service) SetVariable(p *Principal, slug, appName, name string, bind func() (VariableInput, error)) (v spinport.Variable, created bool, err error) {
	a, app, err := s.appAccess(p, slug, appName, spinport.RoleDeployer)
	if err != nil {
		return v, false, err
	}
	if err := spinport.CheckVariableName(name); err != nil {
		return v, false, err
	}
	in, err := bind()
	if err != nil {
		return v, false, err
	}
	if len(in.Value) > spinport.MaxValueLen {
		return v, false, invalid("value", "value is over 16 KiB")
	}
	existing, err := s.DB.GetVariable(app.Tenant, app.Name, name)
	isNew := errors.Is(err, kv.ErrNotFound)
	if err != nil && !isNew {
		return v, false, err
	}
	if isNew {
		vars, err := s.DB.Variables(app.Tenant, app.Name)
		if err != nil {
			return v, false, err
		}
		if len(vars) >= spinport.MaxVariables {
			return v, false, invalid("name", "an app has at most "+strconv.Itoa(spinport.MaxVariables)+" variables")
		}
	}
	if in.Secret {
		if err := s.ensureTenant(&a.Tenant); err != nil {
			return v, false, err
		}
		if err := s.Deployer.SetSecret(app.Tenant, app.Name, name, in.Value); err != nil {
			return v, false, err
		}
	} else if !isNew && existing.Secret {
		if err := s.Deployer.DeleteSecret(app.Tenant, app.Name, name); err != nil {
			return v, false, err
		}
	}
	v = spinport.Variable{Name: name, Value: in.Value, Secret: in.Secret, UpdatedAt: s.now()}
	if err := s.DB.SetVariable(app.Tenant, app.Name, v); err != nil {
		return v, false, err
	}
	s.audit(app.Tenant, p, "variable.set", "app/"+app.Name+"/variable/"+name, "ok", map[bool]string{true: "secret", false: "plain"}[in.Secret])
	if err := s.redeploy(a, app, p, "variable "+name+" set"); err != nil {
		return v, false, err
	}
	return v, isNew, nil
}

func (s *Service) DeleteVariable(p *Principal, slug, appName, name string) error {
	a, app, err := s.appAccess(p, slug, appName, spinport.RoleDeployer)
	if err != nil {
		return err
	}
	v, err := s.DB.GetVariable(app.Tenant, app.Name, name)
	if errors.Is(err, kv.ErrNotFound) {
		return notFound("app " + app.Name + " has no variable \"" + name + "\"")
	}
	if err != nil {
		return err
	}
	if v.Secret {
		if err := s.Deployer.DeleteSecret(app.Tenant, app.Name, name); err != nil {
			return err
		}
	}
	if err := s.DB.DeleteVariable(app.Tenant, app.Name, name); err != nil {
		return err
	}
	s.audit(app.Tenant, p, "variable.unset", "app/"+app.Name+"/variable/"+name, "ok", "")
	return s.redeploy(a, app, p, "variable "+name+" unset")
}
