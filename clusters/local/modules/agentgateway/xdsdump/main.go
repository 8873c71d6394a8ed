// Command xdsdump reads what the agentgateway controller serves one Gateway's proxies, the way such a proxy asks for
// it: a delta ADS stream whose node metadata `role` is "<namespace>~<gateway>" (the controller's AgentgatewayID),
// subscribed to both types the controller serves (agentgateway.dev.resource.Resource and istio.workload.Address).
// It ACKs every response and applies removals, and once both types have answered and then nothing new arrived for
// -quiet (or -timeout passed), prints ONE JSON document on stdout:
//
//	{"resources": {"<name>": <Resource as protojson>}, "addresses": {"<name>": <Address as protojson>}}
//
// Errors go to stderr, with a non-zero exit. The output holds API keys (policies carry them): whoever runs this must
// neither log nor show it.
//
// It is part of the agentgateway wrapper module, so it is built against the same generated api module and the same
// pinned dependencies as the controller (conformance/local/build.py, component agentgateway-xds).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"istio.io/istio/pkg/workloadapi"

	"github.com/agentgateway/agentgateway/api"
)

const (
	resourceURL = "type.googleapis.com/agentgateway.dev.resource.Resource"
	addressURL  = "type.googleapis.com/istio.workload.Address"
)

// kinds: the type URLs subscribed to, with the output field and the message each decodes to.
var kinds = map[string]struct {
	field string
	new   func() proto.Message
}{
	resourceURL: {"resources", func() proto.Message { return &api.Resource{} }},
	addressURL:  {"addresses", func() proto.Message { return &workloadapi.Address{} }},
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9978", "the controller's xDS address")
	namespace := flag.String("namespace", "", "the Gateway's namespace")
	gateway := flag.String("gateway", "", "the Gateway's name")
	quiet := flag.Duration("quiet", 500*time.Millisecond, "done when every type has answered and nothing new arrived for this long")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long (an error unless every type has answered)")
	flag.Parse()
	if *namespace == "" || *gateway == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: xdsdump -namespace NS -gateway NAME [-addr HOST:PORT] [-quiet 500ms] [-timeout 30s]")
		os.Exit(2)
	}
	dump, err := collect(*addr, *namespace+"~"+*gateway, *quiet, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xdsdump:", err)
		os.Exit(1)
	}
	out, err := json.Marshal(dump)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xdsdump: encoding the output:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(append(out, '\n')); err != nil {
		os.Exit(1)
	}
}

type received struct {
	response *discoveryv3.DeltaDiscoveryResponse
	err      error
}

// collect subscribes as the Gateway's proxy and returns each type's resources by name, as the stream left them.
func collect(addr, role string, quiet, timeout time.Duration) (map[string]map[string]json.RawMessage, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the delta ADS stream to %s: %w", addr, err)
	}
	metadata, err := structpb.NewStruct(map[string]any{"role": role})
	if err != nil {
		return nil, err
	}
	node := &corev3.Node{Id: "xdsdump~" + role, Metadata: metadata}
	dump := map[string]map[string]json.RawMessage{}
	for url, kind := range kinds {
		dump[kind.field] = map[string]json.RawMessage{}
		// An empty subscription is a wildcard one, as the proxy's.
		if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: url}); err != nil {
			return nil, fmt.Errorf("subscribing to %s: %w", url, err)
		}
	}

	responses := make(chan received)
	go func() {
		for {
			response, err := stream.Recv()
			select {
			case responses <- received{response, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	answered := map[string]bool{}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var silence <-chan time.Time // armed once every type has answered, re-armed by each response
	for {
		select {
		case got := <-responses:
			if got.err != nil {
				return nil, fmt.Errorf("the stream ended: %w", got.err)
			}
			if err := apply(dump, got.response); err != nil {
				return nil, err
			}
			answered[got.response.TypeUrl] = true
			// ACK, or the controller holds back its next push of this type.
			ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: got.response.TypeUrl, ResponseNonce: got.response.Nonce}
			if err := stream.Send(ack); err != nil {
				return nil, fmt.Errorf("acknowledging %s: %w", got.response.TypeUrl, err)
			}
			if len(answered) == len(kinds) {
				silence = time.After(quiet)
			}
		case <-silence:
			return dump, nil
		case <-deadline.C:
			if len(answered) == len(kinds) {
				return dump, nil // still changing; what the stream holds now
			}
			var missing []string
			for url := range kinds {
				if !answered[url] {
					missing = append(missing, url)
				}
			}
			slices.Sort(missing)
			return nil, fmt.Errorf("no response for %s within %s", strings.Join(missing, " and "), timeout)
		}
	}
}

// apply merges one delta response into the dump: its resources replace those of the same name, removals delete.
func apply(dump map[string]map[string]json.RawMessage, response *discoveryv3.DeltaDiscoveryResponse) error {
	kind, ok := kinds[response.TypeUrl]
	if !ok {
		return fmt.Errorf("a response of a type not subscribed to: %q", response.TypeUrl)
	}
	for _, resource := range response.Resources {
		if resource.Resource == nil {
			return fmt.Errorf("%s %q came without a body", response.TypeUrl, resource.Name)
		}
		if resource.Resource.GetTypeUrl() != response.TypeUrl {
			return fmt.Errorf("%q is a %s in a %s response", resource.Name, resource.Resource.GetTypeUrl(), response.TypeUrl)
		}
		message := kind.new()
		if err := resource.Resource.UnmarshalTo(message); err != nil {
			return fmt.Errorf("decoding %s %q: %w", response.TypeUrl, resource.Name, err)
		}
		encoded, err := protojson.Marshal(message)
		if err != nil {
			return fmt.Errorf("encoding %s %q: %w", response.TypeUrl, resource.Name, err)
		}
		dump[kind.field][resource.Name] = encoded
	}
	for _, name := range response.RemovedResources {
		delete(dump[kind.field], name)
	}
	return nil
}
