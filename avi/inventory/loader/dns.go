package loader

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/session"
)

// loadDNSAndLicense reads the service domains of the cloud's DNS profile
// (the subdomains AKO builds FQDNs under) and the controller's default
// license tier (which picks the TCP network profile). A DNS profile that
// cannot be read is an error: FQDNs computed without it would be removed
// from VsVips. The license tier is best effort, as in AKO: an account that
// may not read the system configuration gets the fast path.
func loadDNSAndLicense(ctx context.Context, c avi.Client, snap *inventory.Snapshot) error {
	if ref := snap.Cloud.DNSProfileRef; ref != "" {
		var prof models.IPAMDNSProviderProfile
		if err := c.Get(ctx, "ipamdnsproviderprofile", inventory.RefUUID(ref), url.Values{"include_name": {"true"}, "fields": {dnsFields}}, "", &prof); err != nil {
			return fmt.Errorf("reading DNS profile of cloud %q: %w", snap.Cloud.Name, err)
		}
		snap.Cloud.DNSDomains = dnsDomains(&prof)
	}
	var sys struct {
		DefaultLicenseTier string `json:"default_license_tier"`
	}
	err := c.Get(ctx, "systemconfiguration", "", url.Values{"fields": {"default_license_tier"}}, "", &sys)
	switch {
	case err == nil:
		snap.LicenseTier = sys.DefaultLicenseTier
	case session.IsRetryable(err):
		return fmt.Errorf("reading the license tier: %w", err)
	}
	return nil
}

// dnsDomains lists a DNS profile's service domains, sorted, without a
// leading dot: the internal profile's dns_service_domain, or the
// domain_names of a provider profile (AWS, Azure, Infoblox, custom).
func dnsDomains(p *models.IPAMDNSProviderProfile) []string {
	var out []string
	add := func(d *string) {
		if d != nil && strings.TrimPrefix(*d, ".") != "" {
			out = append(out, strings.TrimPrefix(*d, "."))
		}
	}
	if ip := p.InternalProfile; ip != nil {
		for _, d := range ip.DNSServiceDomain {
			if d != nil {
				add(d.DomainName)
			}
		}
	}
	for _, list := range [][]string{awsDomains(p), azureDomains(p), infobloxDomains(p)} {
		for i := range list {
			add(&list[i])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func awsDomains(p *models.IPAMDNSProviderProfile) []string {
	if p.AwsProfile == nil {
		return nil
	}
	return p.AwsProfile.UsableDomains
}

func azureDomains(p *models.IPAMDNSProviderProfile) []string {
	if p.AzureProfile == nil {
		return nil
	}
	return p.AzureProfile.UsableDomains
}

func infobloxDomains(p *models.IPAMDNSProviderProfile) []string {
	if p.InfobloxProfile == nil {
		return nil
	}
	return p.InfobloxProfile.UsableDomains
}
