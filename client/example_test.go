package client_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/gorocket/gorocket/client"
)

// These examples need a running cluster, so they are compiled but not run.

func ExampleProducer_Send() {
	c, err := client.New(client.DefaultOptions("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p, err := client.NewProducer(c, client.ProducerOptions{Group: "orders-producer"})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := p.Send(ctx, &client.Message{Topic: "Orders", Body: []byte(`{"id":42}`), Tags: "created", Keys: []string{"42"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.MsgID, res.Queue, res.QueueOffset)
}

func ExampleProducer_SendAsync() {
	c, err := client.New(client.DefaultOptions("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p, err := client.NewProducer(c, client.ProducerOptions{Group: "bulk", MaxInFlight: 256})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close() // waits for the callbacks

	var wg sync.WaitGroup
	for i := range 10000 {
		wg.Add(1)
		err := p.SendAsync(context.Background(), &client.Message{Topic: "Events", Body: fmt.Appendf(nil, "event %d", i)},
			func(_ client.SendResult, err error) {
				defer wg.Done()
				if err != nil {
					log.Print(err) // runs on the connection's reader: keep it short
				}
			})
		if err != nil {
			wg.Done()
			log.Print(err)
		}
	}
	wg.Wait()
}

func ExampleHashSelector() {
	c, err := client.New(client.DefaultOptions("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Messages of one order go to one queue, hence stay in order.
	p, err := client.NewProducer(c, client.ProducerOptions{Group: "orders", Selector: client.HashSelector()})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	for _, step := range []string{"created", "paid", "shipped"} {
		msg := &client.Message{Topic: "OrderSteps", Body: []byte(step), ShardingKey: "order-42"}
		if _, err := p.Send(context.Background(), msg); err != nil {
			log.Fatal(err)
		}
	}
}

func ExamplePushConsumer() {
	c, err := client.New(client.DefaultOptions("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	opts := client.DefaultPushConsumerOptions("orders-consumer")
	opts.ConsumeFrom = client.ConsumeFromFirstOffset
	pc, err := client.NewPushConsumer(c, opts, func(ctx context.Context, msgs []client.MessageExt) error {
		for i := range msgs {
			fmt.Println(msgs[i].MsgID(), string(msgs[i].Body))
		}
		return nil // an error delivers the batch again
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := pc.Subscribe("Orders", client.TagFilter("created || paid")); err != nil {
		log.Fatal(err)
	}
	if err := pc.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	time.Sleep(time.Minute)
}

func ExamplePullConsumer_Pull() {
	c, err := client.New(client.DefaultOptions("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	pc, err := client.NewPullConsumer(c, client.PullConsumerOptions{Group: "replayer"})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	ctx := context.Background()
	queues, err := pc.Queues(ctx, "Orders")
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range queues {
		offset, err := pc.MinOffset(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		for {
			res, err := pc.Pull(ctx, client.PullRequest{Queue: q, Offset: offset, MaxNums: 256})
			if err != nil {
				log.Fatal(err)
			}
			for i := range res.Messages {
				fmt.Println(res.Messages[i].QueueOffset, string(res.Messages[i].Body))
			}
			if res.Status == client.PullNoNewMsg || res.Status == client.PullOffsetIllegal {
				break
			}
			offset = res.NextBeginOffset
		}
	}
}

func ExampleAdmin_CreateTopicInCluster() {
	c, err := client.New(client.DefaultOptions("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	admin := client.NewAdmin(c)
	err = admin.CreateTopicInCluster(context.Background(), "DefaultCluster",
		client.TopicConfig{Name: "Orders", ReadQueueNums: 8, WriteQueueNums: 8})
	if err != nil {
		log.Fatal(err)
	}
}
