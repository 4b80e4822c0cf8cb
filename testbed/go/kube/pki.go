package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// runPKI writes the cluster's CA, the apiserver's serving certificate, an
// admin client certificate and the service-account key pair into --dir.
// Files that exist are kept, so restarts keep working kubeconfigs; a missing
// CA regenerates everything, since the rest would no longer chain to it.
func runPKI(args []string) int {
	fs := flag.NewFlagSet("pki", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for the PEM files")
	_ = fs.Parse(args)
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "pki: --dir is required")
		return 2
	}
	if err := writePKI(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "pki:", err)
		return 1
	}
	return 0
}

func writePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	fresh := !exists(path("ca.crt")) || !exists(path("ca.key"))

	var caCert *x509.Certificate
	var caKey crypto.Signer
	if fresh {
		key, err := newKey()
		if err != nil {
			return err
		}
		template := &x509.Certificate{
			Subject:               pkix.Name{CommonName: "shipyard-testbed-ca"},
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := sign(template, key.Public(), template, key)
		if err != nil {
			return err
		}
		if err := writePair(path("ca"), der, key); err != nil {
			return err
		}
		caCert, _ = x509.ParseCertificate(der)
		caKey = key
	} else {
		var err error
		if caCert, caKey, err = readPair(path("ca")); err != nil {
			return err
		}
	}

	leaves := []struct {
		name     string
		template *x509.Certificate
	}{
		{"apiserver", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver"},
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			// 10.96.0.1 is the first address of the service range the apiserver is given.
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)},
		}},
		{"admin", &x509.Certificate{
			// system:masters is bound to cluster-admin by the apiserver's bootstrap policy.
			Subject:     pkix.Name{CommonName: "shipyard-admin", Organization: []string{"system:masters"}},
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	}
	for _, leaf := range leaves {
		if !fresh && exists(path(leaf.name+".crt")) && exists(path(leaf.name+".key")) {
			continue
		}
		key, err := newKey()
		if err != nil {
			return err
		}
		der, err := sign(leaf.template, key.Public(), caCert, caKey)
		if err != nil {
			return err
		}
		if err := writePair(path(leaf.name), der, key); err != nil {
			return err
		}
	}

	if fresh || !exists(path("sa.key")) || !exists(path("sa.pub")) {
		key, err := newKey()
		if err != nil {
			return err
		}
		if err := writeKey(path("sa.key"), key); err != nil {
			return err
		}
		pub, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return err
		}
		if err := os.WriteFile(path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func sign(template *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	template.NotBefore = time.Now().Add(-time.Hour)
	// Long enough that a kept test bed never meets an expired certificate.
	template.NotAfter = time.Now().AddDate(10, 0, 0)
	return x509.CreateCertificate(rand.Reader, template, parent, pub, parentKey)
}

func writePair(base string, der []byte, key *ecdsa.PrivateKey) error {
	if err := writeKey(base+".key", key); err != nil {
		return err
	}
	return os.WriteFile(base+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func readPair(base string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(base + ".crt")
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, nil, err
	}
	certBlock, _ := pem.Decode(certPEM)
	keyBlock, _ := pem.Decode(keyPEM)
	if certBlock == nil || keyBlock == nil {
		return nil, nil, errors.New(base + ": not PEM")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
